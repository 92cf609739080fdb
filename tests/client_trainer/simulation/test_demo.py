"""`python -m client_trainer demo --profile micro` end to end, as a user runs it; the demo
table's runs (its five methods, and target policies when asked).

A real embedded-or-machine Redis, the vendor's own train-vlm and serve commands as processes,
every method on every held-out domain, the budget sweep, and the report files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from client_trainer.config import RunConfig
from client_trainer.simulation.demo import (
    DEMO_METHOD_TARGETS,
    DEMO_METHODS,
    DemoConfig,
    experiment_specs,
)
from client_trainer.simulation.runner import RunSpec
from client_trainer.simulation.session import Session
from tests.support.live_vendor import REPO_ROOT
from tests.support.redis import delete_prefix

METHODS = {"zero-shot", "erm", "lp-ft", "kd", "vl2v-adip"}


@pytest.mark.timeout(600)
def test_micro_demo_writes_report_summary_and_plots(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "REDIS_URL": redis_url,
        "VENDOR_REDIS_PREFIX": f"{redis_prefix}vendor:",
        "CLIENT_REDIS_PREFIX": f"{redis_prefix}client:",
    }
    out = tmp_path / "demo"
    argv = [sys.executable, "-m", "client_trainer", "demo", "--profile", "micro",
            "--out", str(out), "--artifacts", str(tmp_path / "artifacts")]  # fmt: skip
    try:
        done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, timeout=540)
    finally:
        delete_prefix(redis_url, redis_prefix)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    results = summary["results"]
    assert {r["method"] for r in results} == METHODS
    assert len({r["test_domain"] for r in results}) == 4
    assert all(0.0 <= r["ood_acc"] <= 1.0 for r in results)
    by_method = {r["method"]: r for r in results}
    assert by_method["erm"]["image_queries"] == 0  # ERM never asks the teacher for images
    assert by_method["vl2v-adip"]["image_queries"] > 0
    sweep = summary["budget_sweep"]
    strategies = {row["strategy"] for row in sweep}
    assert {"random", "class-balanced", "k-center"} <= strategies
    random_points = sorted(
        (r["budget"], r["image_queries"]) for r in sweep if r["strategy"] == "random"
    )
    assert [q for _, q in random_points] == sorted(
        q for _, q in random_points
    )  # more budget, more queries
    report = (out / "report.md").read_text()
    assert "python -m client_trainer demo" in report
    assert (out / "methods.png").stat().st_size > 1000
    assert (out / "budget_sweep.png").stat().st_size > 1000


def _specs(config: DemoConfig) -> list[RunSpec]:
    session = Session(RunConfig(), ("art", "photo", "sketch"), "t-")
    return experiment_specs(replace(config, sweep=False), session)


def test_the_default_demo_table_runs_each_method_once_under_the_recipe_policy() -> None:
    specs = _specs(DemoConfig())
    assert len(specs) == 3 * len(DEMO_METHODS)
    assert {s.overrides["train.method"] for s in specs} == METHODS  # linear probe: ERM's variant
    assert not any("teacher.targets" in s.overrides for s in specs)


def test_the_demo_commands_headline_adip_row_buys_one_view_per_image() -> None:
    specs = _specs(DemoConfig(method_targets=DEMO_METHOD_TARGETS, test_domains=("sketch",)))
    rows = sorted((s.overrides["train.method"], s.overrides.get("teacher.targets")) for s in specs)
    assert rows == sorted([("zero-shot", None), ("erm", None), ("erm", None), ("lp-ft", None),
                           ("kd", None), ("vl2v-adip", "clean"),
                           ("vl2v-adip", "views:1")])  # fmt: skip


def test_the_demo_table_takes_target_policies_for_kd_and_adip() -> None:
    specs = _specs(DemoConfig(targets=("views:4", "per-step"), test_domains=("sketch",)))
    rows = sorted((s.overrides["train.method"], s.overrides.get("teacher.targets")) for s in specs)
    assert rows == sorted([("zero-shot", None), ("erm", None), ("erm", None), ("lp-ft", None),
                           ("kd", "views:4"), ("kd", "per-step"),
                           ("vl2v-adip", "views:4"), ("vl2v-adip", "per-step")])  # fmt: skip
