"""The teacher-consistent augmentation probe: one view per family of a seeded sample of bought
images, bought through the run's cache, quoted, recorded in metrics.json and the run dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from client_trainer.config import RunConfig
from client_trainer.data.augment import FAMILIES
from client_trainer.data.images import ImageSet
from client_trainer.pipeline import train_run
from client_trainer.purchase.augment_probe import (
    NONE,
    PROBE_FILE,
    probe_rows,
    probe_views,
)
from client_trainer.purchase.quote import plan_job
from tests.support.live_vendor import LiveVendor
from tests.support.run_config import with_vendor

PROBED = 8
N_TRAIN_IMAGES = 28  # the tiny tree's two source domains minus their holdouts


def _pixels(n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 24, 24), generator=gen, dtype=torch.uint8)


def test_a_probe_view_has_one_family_and_depends_on_the_image_alone() -> None:
    pixels, keys = _pixels(6), [f"key{i}" for i in range(6)]
    none = probe_views(pixels, keys, NONE, 0, 24)
    assert (none.int() - pixels.int()).abs().max() <= 1  # no family: the image itself
    for family in ("flip", "shift", "crop-scale", "brightness-contrast", "color-jitter"):
        views = probe_views(pixels, keys, family, 0, 24)
        assert not torch.equal(views, none), family
        assert torch.equal(probe_views(pixels[2:3], keys[2:3], family, 0, 24), views[2:3])
        assert not torch.equal(probe_views(pixels, keys, family, 1, 24), views)  # the seed


def test_the_sample_is_seeded_and_holds_bought_images_only() -> None:
    zeros = torch.zeros(20, dtype=torch.long)
    images = ImageSet(_pixels(20), zeros, zeros, tuple(Path(f"{i}") for i in range(20)))
    bought = torch.arange(20) % 3 == 0
    rows = probe_rows(images, bought, 4, seed=0)
    assert len(rows) == 4 and all(bought[r] for r in rows)
    assert rows == probe_rows(images, bought, 4, seed=0) != probe_rows(images, bought, 4, seed=1)
    assert probe_rows(images, None, 50, seed=0) == list(range(20))  # fewer images than asked


def _consistent(config: RunConfig, threshold: float) -> RunConfig:
    return config.with_overrides({
        "train.method": "vl2v-adip", "train.augment": "teacher-consistent",
        "train.augment_threshold": threshold, "train.augment_probe_images": PROBED,
    })  # fmt: skip


def test_a_teacher_consistent_run_buys_its_probe_once_and_records_the_table(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    _, key = vendor.create_key(10**6)
    base = with_vendor(quick, vendor.base_url, key, redis_url, redis_prefix)
    probe_queries = PROBED * (1 + len(FAMILIES))  # one view per family, and the plain image
    config = _consistent(base, 0.0)
    plan = plan_job([config, base.with_overrides({"train.method": "kd"})])
    assert plan is not None and plan.quote.images == N_TRAIN_IMAGES + probe_queries

    result = train_run(config)
    metrics = result.metrics
    assert metrics["image_queries"] == N_TRAIN_IMAGES + probe_queries  # as quoted
    probe = metrics["augment"]["probe"]
    assert probe == json.loads((result.directory / PROBE_FILE).read_text())
    assert probe["images"] == PROBED and set(probe["cosines"]) == {NONE, *FAMILIES}
    assert all(-1 <= c <= 1 for c in probe["cosines"].values())
    kept = [f for f in FAMILIES if probe["cosines"][f] >= 0.0]
    assert probe["kept"] == metrics["augment"]["families"] == kept

    # A stricter threshold over the same probe: bought before, so nothing is bought again.
    middle = sorted(probe["cosines"][f] for f in FAMILIES)[len(FAMILIES) // 2]
    strict = train_run(_consistent(base, middle).with_overrides({"output.run_name": "strict"}))
    assert strict.metrics["image_queries"] == 0
    assert strict.metrics["image_cache_hits"] == N_TRAIN_IMAGES + probe_queries
    chosen = strict.metrics["augment"]
    assert chosen["probe"]["cosines"] == probe["cosines"]
    assert chosen["families"] == [f for f in FAMILIES if probe["cosines"][f] >= middle]
    assert 0 < len(chosen["families"]) < len(FAMILIES)


def test_standard_augmentation_and_other_targets_do_not_probe(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    _, key = vendor.create_key(10**6)
    base = with_vendor(quick, vendor.base_url, key, redis_url, redis_prefix)
    views = _consistent(base, 0.0).with_overrides({"teacher.targets": "views:2"})
    metrics = train_run(views).metrics
    assert metrics["image_queries"] == 2 * N_TRAIN_IMAGES
    assert metrics["augment"] == {"setting": "teacher-consistent", "families": list(FAMILIES),
                                  "probe": None}  # fmt: skip


@pytest.mark.parametrize("threshold", [1.5, -2.0])
def test_a_threshold_outside_the_cosine_range_is_refused(
    quick: RunConfig, threshold: float
) -> None:
    with pytest.raises(ValueError, match="augment_threshold"):
        quick.with_overrides({"train.augment_threshold": threshold})
