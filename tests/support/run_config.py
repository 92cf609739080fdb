"""Client run configs for tests: a quick one that trains in seconds, and one aimed at a vendor."""

from __future__ import annotations

from pathlib import Path

from client_trainer.config import RunConfig
from tests.client_trainer.tree import DATASET


def quick_config(root: Path, out_dir: Path, **train: object) -> RunConfig:
    """A config that trains in well under a second per stage on two cores."""
    overrides: dict[str, object] = {
        "data.root": root,
        "data.dataset": DATASET,
        "data.test_domain": "gamma",
        "data.image_size": 32,
        "student.name": "test_resnet",
        "train.steps": 6,
        "train.batch_per_domain": 8,
        "train.eval_every": 3,
        "train.lr": 1e-3,
        "train.threads": 1,
        "output.out_dir": out_dir,
        "output.progress": False,
    }
    overrides.update({f"train.{k}": v for k, v in train.items()})
    return RunConfig().with_overrides(overrides)


def with_vendor(
    config: RunConfig, base_url: str, api_key: str, redis_url: str, prefix: str, **teacher: object
) -> RunConfig:
    """`config` pointed at a live vendor and at the test's own Redis prefix."""
    overrides: dict[str, object] = {
        "teacher.vendor_url": base_url,
        "teacher.api_key": api_key,
        "teacher.redis_url": redis_url,
        "teacher.redis_prefix": prefix,
    }
    overrides.update({f"teacher.{k}": v for k, v in teacher.items()})
    return config.with_overrides(overrides)
