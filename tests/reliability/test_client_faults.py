"""The client killed mid-`buy` with requests in flight, and its Redis killed too: a restart
buys only what is missing, and the vendor is paid exactly once per embedding.

Vendor ledger and client cache live on one private redis-server (AOF, fsync always), under
separate prefixes. The `buy` process is SIGKILLed while the vendor holds reservations for it
(so some requests die in flight: committed but never received, or not yet committed); then
Redis itself is SIGKILLed and restarted from its append-only file; then `buy` runs again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis

from tests.client_trainer.tree import CLASSES, DATASET, DOMAINS, make_tree
from tests.reliability.ledger_audit import PRICE_PER_IMAGE, PRICE_PER_TEXT, read_key
from tests.reliability.redis_process import RedisProcess
from tests.reliability.vendor_process import VendorProcess
from tests.support.live_vendor import REPO_ROOT

PER_CLASS = 8
N_IMAGES = len(DOMAINS) * len(CLASSES) * PER_CLASS
FULL_COST = N_IMAGES * PRICE_PER_IMAGE + len(CLASSES) * PRICE_PER_TEXT
VENDOR_PREFIX, CLIENT_PREFIX = "vendor:", "client:"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis")
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture
def vendor(private_redis: RedisProcess, tmp_path: Path) -> Iterator[VendorProcess]:
    process = VendorProcess(
        private_redis.url,
        VENDOR_PREFIX,
        tmp_path,
        {
            "VENDOR_RATE_LIMIT_REQUESTS": "10/second",  # the purchase lasts a couple of seconds
            "VENDOR_LEASE_SECONDS": "4",
            "VENDOR_INFERENCE_TIMEOUT_SECONDS": "3",
            "VENDOR_REAPER_INTERVAL_SECONDS": "0.5",
        },
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


def _buy(vendor: VendorProcess, redis_url: str, root: Path, api_key: str) -> list[str]:
    return [
        *(sys.executable, "-m", "client_trainer", "buy", "--quiet"),
        *("--vendor-url", vendor.base_url, "--data-root", str(root), "--dataset", DATASET),
        *("--per-request", "4", "--max-in-flight", "4", "--run-name", "fault"),
        *("--redis-url", redis_url, "--redis-prefix", CLIENT_PREFIX, "--api-key", api_key),
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}


def _kill_in_flight(buyer: subprocess.Popen[bytes], raw: redis.Redis, key_id: str) -> int:
    """SIGKILL `buy` once it has cached some embeddings and the vendor holds reservations."""
    give_up = time.monotonic() + 60
    try:
        while time.monotonic() < give_up:
            assert buyer.poll() is None, "buy finished before it could be killed"
            images = int(raw.hget(f"{CLIENT_PREFIX}run:fault", "images") or 0)
            if images >= 8 and read_key(raw, VENDOR_PREFIX, key_id).reserved > 0:
                return images
            time.sleep(0.002)
        raise AssertionError("never caught buy with requests in flight")
    finally:
        buyer.send_signal(signal.SIGKILL)
        buyer.wait(timeout=10)


def _cache(raw: redis.Redis) -> dict[bytes, bytes | None]:
    names = sorted(raw.scan_iter(match=f"{CLIENT_PREFIX}emb:*", count=1000))
    if not names:
        return {}
    # redis-py types replies as bytes | str; this client does not decode, so they are bytes.
    values = cast("list[bytes | None]", raw.mget(names))
    return dict(zip(names, values, strict=True))


@pytest.mark.slow  # three client processes (~25 s); the cache-survives part runs by default
# in test_redis_faults, a killed buy resuming in tests/client_trainer/test_cli.py
def test_killed_buy_and_redis_crash_then_resume_pays_once_per_embedding(
    vendor: VendorProcess, private_redis: RedisProcess, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "data", per_class=PER_CLASS)
    key_id, api_key = vendor.create_key(10**6, "client-fault")
    command = _buy(vendor, private_redis.url, root, api_key)
    buyer = subprocess.Popen(command, env=_env(), cwd=REPO_ROOT, stderr=subprocess.PIPE)
    with private_redis.client() as raw:
        cached_at_kill = _kill_in_flight(buyer, raw, key_id)
        assert read_key(raw, VENDOR_PREFIX, key_id).spent < FULL_COST
        cache_before = _cache(raw)
    assert 0 < len(cache_before) < N_IMAGES + len(CLASSES)

    private_redis.kill()  # the cache and the ledger must come back from the AOF alone
    private_redis.start()
    with private_redis.client() as raw:
        assert _cache(raw) == cache_before  # every cached embedding, byte for byte

    resumed = subprocess.run(
        command, env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads(resumed.stdout.strip().splitlines()[-1])
    with private_redis.client() as raw:
        # Paid exactly once per embedding over both runs, the in-flight ones included.
        deadline = time.monotonic() + 10
        while read_key(raw, VENDOR_PREFIX, key_id).reserved and time.monotonic() < deadline:
            time.sleep(0.1)
        ledger = read_key(raw, VENDOR_PREFIX, key_id)
        assert (ledger.spent, ledger.reserved) == (FULL_COST, 0)
        assert (ledger.images, ledger.texts) == (N_IMAGES, len(CLASSES))
        assert len(_cache(raw)) == N_IMAGES + len(CLASSES)
    assert report["spend"]["cache_hits"] >= len(cache_before) >= cached_at_kill

    again = subprocess.run(
        command, env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert again.returncode == 0, again.stderr[-2000:]
    with private_redis.client() as raw:
        assert read_key(raw, VENDOR_PREFIX, key_id).spent == FULL_COST  # a third run buys nothing
