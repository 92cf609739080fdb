"""`torchrun --standalone --nproc_per_node=2 -m client_trainer train`, gloo on the CPU, against
a live vendor, for every method: it trains, writes one checkpoint and one metrics file, and
spends what a one-process run of the same config spends (the client's record, the vendor's
ledger). `python -m torch.distributed.run` is the module behind the `torchrun` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client_trainer.config import RunConfig
from client_trainer.pipeline import evaluate_checkpoint, train_run
from client_trainer.runs import CHECKPOINT_FILE, METRICS_FILE, read_metrics
from tests.support.live_vendor import REPO_ROOT, LiveVendor
from tests.support.run_config import with_vendor

SLOW = pytest.mark.slow  # about 20 s each on 2 cores; the per-step ADiP run is the default one
CASES = [
    pytest.param({"train.method": "vl2v-adip", "teacher.targets": "per-step"}, id="adip-per-step"),
    pytest.param({"train.method": "vl2v-adip", "train.swad": True}, id="adip-swad", marks=SLOW),
    pytest.param({"train.method": "zero-shot"}, id="zero-shot", marks=SLOW),
    pytest.param({"train.method": "erm"}, id="erm", marks=SLOW),
    pytest.param(
        {"train.method": "erm", "train.erm_variant": "linear-probe"}, id="erm-probe", marks=SLOW
    ),
    pytest.param({"train.method": "lp-ft"}, id="lp-ft", marks=SLOW),
    pytest.param(
        {"train.method": "kd", "teacher.targets": "views:2", "teacher.image_fraction": 0.5},
        id="kd-views-half",
        marks=SLOW,
    ),
]
LEDGER = ("spent", "images", "texts")


def _config(
    quick: RunConfig, vendor: LiveVendor, redis: tuple[str, str], out: Path, case: dict[str, Any]
) -> tuple[str, RunConfig]:
    """(the vendor key's id, `quick` with `case` on a fresh key and its own Redis prefix)."""
    key_id, api_key = vendor.create_key(1_000_000)
    config = with_vendor(quick, vendor.base_url, api_key, *redis)
    return key_id, config.with_overrides(case | {"output.out_dir": out})


def _torchrun(config: RunConfig, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    data = config.model_dump(mode="json")
    data["teacher"]["api_key"] = config.teacher.api_key.get_secret_value()
    file = tmp_path / "run.json"
    file.write_text(json.dumps(data))
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "client_trainer", "train", "--config", str(file)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", CASES)
def test_two_processes_train_write_once_and_spend_as_one(
    case: dict[str, Any],
    vendor: LiveVendor,
    redis_url: str,
    redis_prefix: str,
    quick: RunConfig,
    tmp_path: Path,
) -> None:
    (one_key, one), (two_key, two) = (
        _config(quick, vendor, (redis_url, f"{redis_prefix}{name}:"), tmp_path / name, case)
        for name in ("one", "two")
    )
    single = train_run(one).metrics
    done = _torchrun(two, tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1  # rank 0 alone reports the run
    metrics_files = list((tmp_path / "two").rglob(METRICS_FILE))
    checkpoints = list((tmp_path / "two").rglob(CHECKPOINT_FILE))
    assert len(metrics_files) == 1
    assert len(checkpoints) == (0 if two.train.method == "zero-shot" else 1)
    metrics = read_metrics(metrics_files[0].parent)
    assert json.loads(printed[0])["run_dir"] == str(metrics_files[0].parent)
    assert 0.0 <= metrics["id_acc"] <= 1.0 and 0.0 <= metrics["ood_acc"] <= 1.0
    same = ["image_queries", "text_queries", "cost", "cache_hits"]
    if two.teacher.targets.kind != "per-step":
        same.append("requests")  # per-step: each rank sends its own requests
    assert {k: metrics[k] for k in same} == {k: single[k] for k in same}
    one_ledger, two_ledger = (vendor.key_info(key) for key in (one_key, two_key))
    assert {k: two_ledger[k] for k in LEDGER} == {k: one_ledger[k] for k in LEDGER}
    if checkpoints:
        scores = evaluate_checkpoint(checkpoints[0])
        assert scores["id_acc"] == pytest.approx(metrics["id_acc"])
        assert scores["ood_acc"] == pytest.approx(metrics["ood_acc"])
