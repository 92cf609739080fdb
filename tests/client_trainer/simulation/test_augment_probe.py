"""`python -m client_trainer probe-augment`: the per-family table of a data set (a tiny tree
against a live vendor, fast) and of the micro world (slow: it builds the world)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client_trainer.cli import app
from client_trainer.data.augment import FAMILIES
from client_trainer.purchase.augment_probe import NONE, PROBE_FILE
from tests.client_trainer.tree import DATASET
from tests.support.live_vendor import REPO_ROOT, LiveVendor
from tests.support.redis import delete_prefix

PROBED = 4


def _check(table: dict[str, dict[str, object]], domains: set[str]) -> None:
    assert set(table) == domains
    for probe in table.values():
        cosines = probe["cosines"]
        assert isinstance(cosines, dict) and set(cosines) == {NONE, *FAMILIES}
        assert probe["images"] == PROBED
        assert probe["kept"] == [f for f in FAMILIES if cosines[f] >= probe["threshold"]]


def test_probe_augment_on_a_data_set_prints_and_writes_the_table_and_reruns_free(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, tiny_root: Path, tmp_path: Path
) -> None:
    key_id, api_key = vendor.create_key(10**6)
    argv = ["probe-augment", "--data-root", str(tiny_root), "--dataset", DATASET,
            "--student", "test_resnet", "--image-size", "32", "--vendor-url", vendor.base_url,
            "--api-key", api_key, "--augment-probe-images", str(PROBED),
            "--test-domains", "alpha,gamma", "--out", str(tmp_path / "probe")]  # fmt: skip
    env = {"REDIS_URL": redis_url, "CLIENT_REDIS_PREFIX": redis_prefix,
           "VENDOR_URL": None, "VENDOR_API_KEY": None}  # fmt: skip
    result = CliRunner().invoke(app, argv, env=env)
    assert result.exit_code == 0, result.output[-3000:]
    table = json.loads(result.stdout.strip().splitlines()[-1])
    _check(table, {"alpha", "gamma"})
    assert json.loads((tmp_path / "probe" / PROBE_FILE).read_text()) == table
    spent = vendor.key_info(key_id)["spent"]
    assert 0 < spent <= 2 * PROBED * (len(FAMILIES) + 2) * 10  # views, plain and clean images
    again = CliRunner().invoke(app, argv, env=env)
    assert again.exit_code == 0 and json.loads(again.stdout.strip().splitlines()[-1]) == table
    assert vendor.key_info(key_id)["spent"] == spent  # all of it read from the cache


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_probe_augment_on_the_micro_world(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "REDIS_URL": redis_url,
           "VENDOR_REDIS_PREFIX": f"{redis_prefix}vendor:",
           "CLIENT_REDIS_PREFIX": f"{redis_prefix}client:"}  # fmt: skip
    argv = [sys.executable, "-m", "client_trainer", "probe-augment", "--profile", "micro",
            "--augment-probe-images", str(PROBED), "--out", str(tmp_path / "probe"),
            "--artifacts", os.environ.get("ARTIFACTS_DIR", str(tmp_path / "art"))]  # fmt: skip
    try:
        done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, timeout=840)
    finally:
        delete_prefix(redis_url, redis_prefix)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    table = json.loads(done.stdout.decode().strip().splitlines()[-1])
    _check(table, set(table))
    assert len(table) == 4  # every held-out domain of the world
