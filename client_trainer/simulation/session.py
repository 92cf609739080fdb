"""Everything a simulated experiment needs before its first run: the client's world, a Redis,
a vendor with an API key, and the base run config that ties them together."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.simulation.profiles import client_profile
from client_trainer.simulation.recipe import base_config
from client_trainer.simulation.vendor_access import VendorPlan, vendor_access
from client_trainer.simulation.world import prepare_client_world
from shared.redis_server import resolve_redis

Announce = Callable[[str], None]


@dataclass(frozen=True)
class SessionConfig:
    out_dir: Path = Path("runs/demo")  # report, summary, plots and run directories
    artifacts: Path = field(  # cached world data, teacher checkpoint, student weights, Redis
        default_factory=lambda: Path(os.environ.get("ARTIFACTS_DIR", "artifacts"))
    )
    vendor_url: str | None = None  # a running vendor; None starts one locally
    api_key: str | None = None  # its API key; None creates one with the admin token
    admin_token: str | None = None  # the vendor's admin token (generated for a local vendor)
    redis_url: str | None = None  # the client's (and a local vendor's) Redis; None = embedded
    budget: int = 10**9  # credits on the API key a simulation creates for itself
    profile: str = "full"  # size of the world: full (the demo's), micro (tests) or paper
    client_prefix: str = field(  # key prefix of the client's cache and spend records
        default_factory=lambda: os.environ.get("CLIENT_REDIS_PREFIX", "client:")
    )

    @classmethod
    def from_env(cls, **overrides: object) -> SessionConfig:
        env = {
            "vendor_url": os.environ.get("VENDOR_URL") or None,
            "api_key": os.environ.get("VENDOR_API_KEY") or None,
            "admin_token": os.environ.get("VENDOR_ADMIN_TOKEN") or None,
            "redis_url": os.environ.get("REDIS_URL") or None,
        }
        return cls(**{**env, **{k: v for k, v in overrides.items() if v is not None}})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Session:
    base: RunConfig  # every run of the experiment starts from this config
    domains: tuple[str, ...]
    tag: str  # prefixes the experiment's run names: its own run directories and spend records


def experiment_tag(out_dir: Path) -> str:
    """The run-name prefix of an experiment: the same for every run into `out_dir` (so a
    rerun finds its finished runs), different for another out dir (its own spend records)."""
    digest = hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()
    return f"{digest[:8]}-"


# Where the simulation decides: a flag for these fields changes how it reaches the vendor
# and Redis (SessionConfig), not the base config its runs start from.
CONNECTION_FIELDS = ("teacher.vendor_url", "teacher.api_key", "teacher.redis_url",
                     "teacher.redis_prefix")  # fmt: skip


@contextmanager
def simulation_session(
    config: SessionConfig, announce: Announce, overrides: dict[str, Any] | None = None
) -> Iterator[Session]:
    """The world, a Redis and a vendor; the runs' base config is the world's recipe with
    `overrides` (dotted fields the user set) on top."""
    announce("world: generating (or reusing) the task data and the pretrained student")
    profile = client_profile(config.profile)
    world = prepare_client_world(config.artifacts, profile)
    redis = resolve_redis(config.redis_url, config.artifacts / "redis", who="simulation")
    plan = VendorPlan(
        config.vendor_url,
        config.api_key,
        config.admin_token,
        config.budget,
        redis.url,
        config.artifacts,
        config.out_dir / "logs",
        config.profile,
    )
    try:
        with vendor_access(plan, announce) as vendor:
            base = (
                base_config(
                    profile.recipe,
                    world.data_root,
                    world.dataset,
                    (world.student, world.student_weights),
                    config.out_dir / "runs",
                )
                .with_overrides(
                    {k: v for k, v in (overrides or {}).items() if k not in CONNECTION_FIELDS}
                )
                .with_overrides(
                    {
                        "teacher.vendor_url": vendor.base_url,
                        "teacher.api_key": vendor.api_key,
                        "teacher.redis_url": redis.url,
                        "teacher.redis_prefix": config.client_prefix,
                    }
                )
            )
            yield Session(base, world.domains, experiment_tag(config.out_dir))
    finally:
        redis.close()
