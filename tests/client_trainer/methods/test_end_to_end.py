"""Every registered method trains and evaluates end to end on a tiny tree, in seconds,
buying from a live vendor; metrics.json and the checkpoint agree with `evaluate`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from client_trainer.config import RunConfig
from client_trainer.methods import METHODS
from client_trainer.pipeline import evaluate_checkpoint, train_run
from client_trainer.report.results import RESULTS_FILE, last_result
from client_trainer.runs import CHECKPOINT_FILE, read_metrics
from tests.client_trainer.tree import CLASSES
from tests.support.live_vendor import LiveVendor
from tests.support.run_config import with_vendor

N_TRAIN_IMAGES = 2 * len(CLASSES) * 6 - 8  # two source domains minus their 20 % holdouts
N_EVAL_IMAGES = 8 + len(CLASSES) * 6  # holdouts + target


def _config(quick: RunConfig, vendor: LiveVendor, redis_url: str, prefix: str) -> RunConfig:
    _, api_key = vendor.create_key(1_000_000)
    return with_vendor(quick, vendor.base_url, api_key, redis_url, prefix)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_and_evaluates_in_seconds(
    method: str, vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    config = _config(quick, vendor, redis_url, redis_prefix).with_overrides(
        {"train.method": method}
    )
    started = time.perf_counter()
    result = train_run(config)
    elapsed = time.perf_counter() - started
    print(f"{method}: {elapsed:.2f}s")
    assert elapsed < 30
    metrics = read_metrics(result.directory)
    assert metrics["method"] == method and metrics["test_domain"] == "gamma"
    assert 0.0 <= metrics["id_acc"] <= 1.0 and 0.0 <= metrics["ood_acc"] <= 1.0
    assert metrics["config"]["train"]["method"] == method
    assert metrics["config"]["teacher"]["api_key"] == "***"
    needs = METHODS[method].needs
    expected_images = (N_TRAIN_IMAGES if needs.train_images else 0) + (
        N_EVAL_IMAGES if needs.eval_images else 0
    )
    assert metrics["image_queries"] == expected_images
    assert metrics["text_queries"] == (len(CLASSES) if needs.text else 0)
    assert metrics["cost"] == expected_images * 10 + metrics["text_queries"]
    line = last_result(result.directory / RESULTS_FILE)
    assert line is not None and line["row"] == method and line["config"] == metrics["config"]
    assert (line["id_acc"], line["ood_acc"]) == (metrics["id_acc"], metrics["ood_acc"])
    assert line["image_queries"] == expected_images
    assert line["list_cost"] == metrics["cost"]  # all bought now: used = bought
    asks = needs.text or needs.train_images or needs.eval_images
    assert line["prices"] == ({"image": 10, "text": 1} if asks else None)
    if method == "zero-shot":
        assert not (result.directory / CHECKPOINT_FILE).exists()
        return
    scores = evaluate_checkpoint(result.directory / CHECKPOINT_FILE, config)
    assert scores["id_acc"] == pytest.approx(metrics["id_acc"])
    assert scores["ood_acc"] == pytest.approx(metrics["ood_acc"])


@pytest.mark.parametrize("targets", ["views:2", "per-step"])
def test_adip_with_cached_views_or_per_step_purchases(
    targets: str, vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    config = _config(quick, vendor, redis_url, redis_prefix).with_overrides(
        {"train.method": "vl2v-adip", "teacher.targets": targets}
    )
    metrics = train_run(config).metrics
    if targets == "views:2":
        assert metrics["image_queries"] == 2 * N_TRAIN_IMAGES
        again = train_run(config.with_overrides({"output.run_name": "again"})).metrics
        assert again["image_queries"] == 0 and again["cache_hits"] > 0  # same views, cached
        assert again["ood_acc"] == pytest.approx(metrics["ood_acc"])  # deterministic per seed
    else:
        steps, per_step = config.train.steps * 2, 2 * config.train.batch_per_domain
        assert 0 < metrics["image_queries"] <= steps * per_step
        assert metrics["requests"] >= steps  # at least one purchase per step, both stages


def test_erm_linear_probe_and_swad_variants(quick: RunConfig, tmp_path: Path) -> None:
    probe = train_run(
        quick.with_overrides({"train.method": "erm", "train.erm_variant": "linear-probe"})
    ).metrics
    assert [s["name"] for s in probe["stages"]] == ["probe"]
    swad = train_run(
        quick.with_overrides({"train.method": "erm", "train.swad": True, "output.run_name": "swad"})
    ).metrics
    assert swad["stages"][0]["selected"].startswith("swad(")
    assert json.loads(json.dumps(swad))["image_queries"] == 0  # ERM buys nothing


def test_same_seed_same_result(quick: RunConfig) -> None:
    first = train_run(quick.with_overrides({"train.method": "erm"})).metrics
    second = train_run(
        quick.with_overrides({"train.method": "erm", "output.run_name": "b"})
    ).metrics
    assert first["stages"][0]["history"] == second["stages"][0]["history"]


@pytest.mark.parametrize(("method", "targets"), [("vl2v-adip", "clean"), ("kd", "views:2")])
def test_buying_targets_for_a_seeded_subset_of_images(
    method: str,
    targets: str,
    vendor: LiveVendor,
    redis_url: str,
    redis_prefix: str,
    quick: RunConfig,
) -> None:
    config = _config(quick, vendor, redis_url, redis_prefix).with_overrides(
        {"train.method": method, "teacher.targets": targets, "teacher.image_fraction": 0.25}
    )
    metrics = train_run(config).metrics
    views = 2 if targets == "views:2" else 1
    assert metrics["image_queries"] == views * round(N_TRAIN_IMAGES * 0.25)
    assert 0.0 <= metrics["ood_acc"] <= 1.0


def test_views_bought_by_buy_are_what_train_uses(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    from client_trainer.pipeline import buy_embeddings

    config = _config(quick, vendor, redis_url, redis_prefix).with_overrides(
        {"train.method": "kd", "teacher.targets": "views:2"}
    )
    report = buy_embeddings(config)
    assert report.spend.images == 2 * N_TRAIN_IMAGES
    metrics = train_run(config.with_overrides({"output.run_name": "after-buy"})).metrics
    assert metrics["image_queries"] == 0 and metrics["text_queries"] == 0
    assert metrics["cache_hits"] == 2 * N_TRAIN_IMAGES + len(CLASSES)


def _log(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(t) for t in (directory / "log.jsonl").read_text().splitlines()]


def test_adip_logs_every_step_and_records_each_stage_with_its_alignment(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    config = _config(quick, vendor, redis_url, redis_prefix).with_overrides(
        {
            "train.method": "vl2v-adip", "train.align_steps": 4, "train.align_lr": 2e-3,
            "train.holdout_alignment": "buy", "train.target_alignment": True,
            "output.log": "tensorboard",
        }
    )  # fmt: skip
    result = train_run(config)
    metrics, steps = result.metrics, config.train.steps
    assert metrics["image_queries"] == N_TRAIN_IMAGES + N_EVAL_IMAGES  # + holdout and target
    align, distill = metrics["stages"]
    assert (align["name"], align["steps"], align["lr"]) == ("align", 4, 2e-3)
    assert (distill["name"], distill["steps"], distill["lr"]) == ("distill", steps, 1e-3)
    for stage in (align, distill):
        assert stage["mean_loss"] == pytest.approx(stage["mean_loss"])  # a number
        assert stage["selected"] == f"best@{stage['selected_step']}"
        for when in ("before", "after"):
            assert -1 <= stage[when]["holdout"] <= 1 and -1 <= stage[when]["target"] <= 1
            assert stage[when]["holdout_images"] == 8  # every holdout image was bought
    assert align["after"]["holdout"] > align["before"]["holdout"]  # P learns to align
    assert distill["before"]["holdout"] == pytest.approx(align["after"]["holdout"], abs=1e-5)
    lines = _log(result.directory)
    trained = [x for x in lines if "loss" in x]
    assert [x["step"] for x in trained] == list(range(1, 4 + steps + 1))
    assert {x["stage"] for x in trained[:4]} == {"align"} and trained[4]["stage"] == "distill"
    assert all({"image", "text", "lr", "images_per_s"} <= x.keys() for x in trained)
    assert [x["lr"] for x in trained] == [2e-3] * 4 + [1e-3] * steps
    evaluated = [x["step"] for x in trained if "holdout_acc" in x]
    assert evaluated == [3, 4, 4 + 3, 4 + 6]  # eval_every 3 and each stage's last step
    assert list((result.directory / "tensorboard").iterdir())
    # the same run name again: the log starts afresh
    again = train_run(config)
    assert len(_log(again.directory)) == len(lines)


def test_cached_alignment_reads_what_the_cache_holds_and_kd_logs_its_terms(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    config = _config(quick, vendor, redis_url, redis_prefix)
    adip = config.with_overrides({"train.method": "vl2v-adip"})
    nothing_cached = train_run(adip).metrics
    assert nothing_cached["stages"][0]["before"] == {}  # no holdout embedding in the cache
    train_run(config.with_overrides({"train.method": "zero-shot"}))  # buys the holdout
    cached = train_run(adip.with_overrides({"output.run_name": "cached"})).metrics
    assert cached["stages"][0]["before"]["holdout_images"] == 8
    assert cached["image_queries"] == 0  # read, never bought
    kd = train_run(config.with_overrides({"train.method": "kd"}))
    assert all({"ce", "kl"} <= x.keys() for x in _log(kd.directory) if "loss" in x)
