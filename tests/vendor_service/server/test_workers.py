"""`serve` with VENDOR_WORKERS > 1: worker processes sharing one Redis, token and metrics."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.live_vendor import (
    REPO_ROOT,
    LiveVendor,
    free_port,
    live_vendor,
    stop_process,
    vendor_env,
    wait_ready,
)
from tests.support.redis import delete_prefix
from tests.vendor_service.conftest import MODEL_ID, png_b64
from vendor_service.metrics import MULTIPROC_ENV
from vendor_service.server.workers import shared_environment
from vendor_service.settings import Settings

pytestmark = pytest.mark.timeout(240)
TOKEN = "workers-admin-token-0123456789"


def test_the_parent_settles_redis_token_and_metrics_then_restores_the_environment(
    tmp_path: Path,
) -> None:
    settings = Settings(admin_token=TOKEN, torch_threads=3, data_dir=tmp_path / "redis")
    before = {name: os.environ.get(name) for name in ("REDIS_URL", MULTIPROC_ENV)}
    with shared_environment(settings) as shared:
        assert os.environ["VENDOR_ADMIN_TOKEN"] == TOKEN
        assert os.environ["VENDOR_TORCH_THREADS"] == "3"
        metrics_dir = Path(os.environ[MULTIPROC_ENV])
        assert metrics_dir.is_dir()
        embedded = redis.Redis.from_url(shared["REDIS_URL"])  # REDIS_URL unset: one embedded
        assert embedded.ping()
        embedded.close()
    assert not metrics_dir.exists()
    assert {name: os.environ.get(name) for name in before} == before


def _embed_all(vendor: LiveVendor, api_key: str, count: int) -> list[httpx.Response]:
    """`count` one-image requests, each on a connection of its own (spread over workers)."""

    async def post(i: int) -> httpx.Response:
        body = {"model": MODEL_ID, "input": [png_b64(seed=i)], "modality": "image"}
        headers = {"Authorization": f"Bearer {api_key}", "Connection": "close"}
        async with httpx.AsyncClient(base_url=vendor.base_url, timeout=60) as client:
            return await client.post("/v1/embeddings", json=body, headers=headers)

    async def run() -> list[httpx.Response]:
        return list(await asyncio.gather(*(post(i) for i in range(count))))

    return asyncio.run(run())


def _children(pid: int) -> list[int]:
    """The worker processes of a `serve` process (spawned; not multiprocessing's helpers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return [child for child in found if b"spawn_main" in _cmdline(child)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # exited meanwhile
        return b""


def _served(metrics: str) -> float:
    pattern = r'vendor_requests_total\{route="/v1/embeddings",status="200"\} ([0-9.e+]+)'
    return sum(float(value) for value in re.findall(pattern, metrics))


def test_two_workers_keep_one_ledger_and_one_set_of_metrics(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    overrides = {"VENDOR_WORKERS": "2"}
    try:
        with live_vendor(redis_url, redis_prefix, tmp_path, overrides) as vendor:
            assert len(_children(vendor.process.pid)) == 2  # the worker processes
            key_id, api_key = vendor.create_key(budget=10 * 25 + 5)  # 25 images affordable
            responses = _embed_all(vendor, api_key, 30)
            statuses = sorted(r.status_code for r in responses)
            assert statuses.count(200) == 25 and statuses.count(402) == 5, statuses
            info = vendor.key_info(key_id)
            assert (info["spent"], info["reserved"], info["images"]) == (250, 0, 25)
            for _ in range(4):  # whichever worker answers, it reports every worker's requests
                metrics = httpx.get(f"{vendor.base_url}/metrics", headers={"Connection": "close"})
                assert _served(metrics.text) == 25
                assert "vendor_ready_workers 2.0" in metrics.text
                for worker in ("0", "1"):  # each worker and the device it serves on
                    gauge = f'vendor_worker_device{{device="cpu",worker="{worker}"}} 1.0'
                    assert gauge in metrics.text
                ready = httpx.get(f"{vendor.base_url}/readyz", headers={"Connection": "close"})
                assert ready.json()["worker"] in (0, 1) and ready.json()["device"] == "cpu"
    finally:
        delete_prefix(redis_url, redis_prefix)


def test_dev_mode_workers_share_the_embedded_redis_and_the_generated_token(
    tmp_path: Path,
) -> None:
    env = vendor_env("", "vendor:", {"VENDOR_WORKERS": "2", "VENDOR_DEV_MODE": "true",
                                     "VENDOR_DATA_DIR": str(tmp_path / "redis")})  # fmt: skip
    for unset in ("REDIS_URL", "VENDOR_ADMIN_TOKEN", MULTIPROC_ENV):
        env.pop(unset, None)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "vendor.log"
    with log_path.open("wb") as log:
        argv = [sys.executable, "-m", "vendor_service", "serve", "--port", str(port)]
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_ready(base_url, process)
            text = log_path.read_text()
            tokens = re.findall(r"generated admin token for this run: (\S+)", text)
            assert len(tokens) == 1, text  # generated once, by the parent
            assert text.count("started an embedded redis-server") == 1, text
            vendor = LiveVendor(base_url, tokens[0], process, log_path)
            _, api_key = vendor.create_key(budget=1000)
            assert all(r.status_code == 200 for r in _embed_all(vendor, api_key, 12))
        finally:
            stop_process(process, grace=15)


def test_a_worker_that_dies_is_replaced_and_the_service_keeps_selling(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    try:
        with live_vendor(redis_url, redis_prefix, tmp_path, {"VENDOR_WORKERS": "2"}) as vendor:
            _wait_for(lambda: _started(vendor) == 2, vendor)  # both, as their parent saw it
            first = _children(vendor.process.pid)
            os.kill(first[0], signal.SIGKILL)
            _wait_for(lambda: _started(vendor) == 3, vendor)  # and a third
            now = _children(vendor.process.pid)
            assert len(now) == 2 and first[0] not in now
            ready = httpx.get(f"{vendor.base_url}/metrics", headers={"Connection": "close"})
            assert "vendor_ready_workers 2.0" in ready.text  # the dead one is not counted
            _, api_key = vendor.create_key(budget=1000)
            assert all(r.status_code == 200 for r in _embed_all(vendor, api_key, 12))
            assert "starting another" in vendor.log()
    finally:
        delete_prefix(redis_url, redis_prefix)


def _started(vendor: LiveVendor) -> int:
    return len(re.findall(r"worker \d+ started", vendor.log()))


def _wait_for(condition: Callable[[], bool], vendor: LiveVendor, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; vendor log: {vendor.log()[-2000:]}")
        time.sleep(0.2)


def test_a_worker_that_cannot_start_stops_the_service_with_an_error(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = vendor_env(redis_url, redis_prefix, {"VENDOR_WORKERS": "2",
                                               "VENDOR_MODEL": "no-such-architecture"})  # fmt: skip
    argv = [sys.executable, "-m", "vendor_service", "serve", "--port", str(free_port())]
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 1
    assert b"exited during start-up" in done.stderr
