"""The CLI: documented flags, a real `buy` killed mid-purchase and resumed, train + evaluate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from client_trainer.cli import app
from tests.client_trainer.tree import CLASSES, DATASET, DOMAINS
from tests.support.live_vendor import REPO_ROOT, live_vendor
from tests.support.redis import delete_prefix

N_IMAGES = len(DOMAINS) * len(CLASSES) * 6
FULL_COST = N_IMAGES * 10 + len(CLASSES)


@pytest.mark.parametrize("command", ["buy", "train", "evaluate", "quote"])
def test_every_flag_is_documented_in_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in ("--data-root", "--dataset", "--test-domain", "--seed"):
        assert flag in result.output
    if command != "evaluate":
        for flag in ("--vendor-url", "--api-key", "--targets", "--cap", "--run-name"):
            assert flag in result.output
    if command == "train":
        for flag in ("--method", "--student", "--student-weights", "--steps", "--out-dir"):
            assert flag in result.output


def _buy_command(base_url: str, root: Path, run: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "client_trainer",
        "buy",
        "--vendor-url",
        base_url,
        "--data-root",
        str(root),
        "--dataset",
        DATASET,
        "--per-request",
        "2",
        "--max-in-flight",
        "1",
        "--run-name",
        run,
        "--quiet",
    ]


def _wait_for_images(
    client: redis.Redis,
    record: str,
    at_least: int,
    timeout: float,
    process: subprocess.Popen[bytes],
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"buy exited early: {process.stderr.read()!r}")  # type: ignore[union-attr]
        images = int(client.hget(record, "images") or 0)
        if images >= at_least:
            return images
        time.sleep(0.05)
    raise TimeoutError(f"{record} never reached {at_least} images")


def test_killed_buy_resumes_and_pays_exactly_for_what_is_missing(
    redis_url: str, redis_prefix: str, tiny_root: Path
) -> None:
    vendor_prefix = f"test:{uuid.uuid4().hex[:12]}:"
    slow = {"VENDOR_RATE_LIMIT_REQUESTS": "6/second"}  # ~5 s for the whole purchase
    try:
        with live_vendor(redis_url, vendor_prefix, Path(tempfile.mkdtemp()), slow) as vendor:
            key_id, api_key = vendor.create_key(100_000)
            env = {
                **os.environ,
                "PYTHONPATH": str(REPO_ROOT),
                "VENDOR_API_KEY": api_key,
                "REDIS_URL": redis_url,
                "CLIENT_REDIS_PREFIX": redis_prefix,
            }
            command = _buy_command(vendor.base_url, tiny_root, "resume")
            first = subprocess.Popen(
                command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            client = redis.Redis.from_url(redis_url)
            try:
                got = _wait_for_images(client, f"{redis_prefix}run:resume", 10, 60, first)
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
            assert got < N_IMAGES, "killed too late to prove anything"
            spent_at_kill = vendor.key_info(key_id)["spent"]
            assert spent_at_kill < FULL_COST
            second = subprocess.run(
                command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
            )
            assert second.returncode == 0, second.stderr
            report = json.loads(second.stdout.strip().splitlines()[-1])
            # The vendor was paid exactly once per embedding, over both processes...
            assert vendor.key_info(key_id)["spent"] == FULL_COST
            # ...and the client's record of the run says the same.
            assert report["spend"]["cost"] == FULL_COST
            assert report["spend"]["images"] == N_IMAGES
            assert report["spend"]["cache_hits"] >= got
            cached = list(client.scan_iter(match=f"{redis_prefix}emb:*", count=1000))
            assert len(cached) == N_IMAGES + len(CLASSES)
    finally:
        delete_prefix(redis_url, vendor_prefix)


def test_train_then_evaluate_through_the_cli(tiny_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    common = [
        "--data-root",
        str(tiny_root),
        "--dataset",
        DATASET,
        "--test-domain",
        "gamma",
        "--image-size",
        "32",
    ]
    trained = runner.invoke(
        app,
        [
            "train",
            "--method",
            "lp-ft",
            "--steps",
            "3",
            "--batch-per-domain",
            "4",
            "--out-dir",
            str(tmp_path),
            "--quiet",
            *common,
        ],
    )
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.output.strip().splitlines()[-1])
    checkpoint = Path(summary["run_dir"]) / "checkpoint.pt"
    evaluated = runner.invoke(app, ["evaluate", str(checkpoint)])  # the run's own config
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.output.strip().splitlines()[-1])
    assert scores["ood_acc"] == pytest.approx(summary["ood_acc"])


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["train", "--data-root", str(tmp_path), "--dataset", "NOPE", "--method", "erm", "--quiet"],
    )
    assert result.exit_code == 2
    assert "no data set folder" in result.output
    unknown = CliRunner().invoke(app, ["train", "--method", "magic", "--quiet"])
    assert unknown.exit_code == 2
    precision = CliRunner().invoke(app, ["train", "--precision", "fp8", "--quiet"])
    assert precision.exit_code == 2
    assert "precision" in precision.output


def test_train_without_a_student_says_which_it_trains_and_how_to_choose(
    tiny_root: Path, tmp_path: Path
) -> None:
    quick = [
        "train", "--method", "erm", "--steps", "1", "--batch-per-domain", "2", "--image-size",
        "32", "--data-root", str(tiny_root), "--dataset", DATASET, "--out-dir", str(tmp_path),
        "--quiet",
    ]  # fmt: skip
    unnamed = CliRunner().invoke(app, quick)
    assert unnamed.exit_code == 0, unnamed.output
    said = " ".join(unnamed.output.split())
    assert "no --student given: training test_resnet (0.4 M parameters, random init)" in said
    assert "--student NAME" in said and "--student-init" in said
    named = CliRunner().invoke(app, [*quick, "--student", "test_resnet"])
    assert named.exit_code == 0, named.output
    assert "no --student given" not in named.output
