"""Fixtures of the reliability suite: one live vendor shared by the package, keys, Redis.

The shared vendor runs with defaults except a 12 MiB body limit (so "far over the limit" is
cheap to send) and a short lease; tests that kill or restart things start their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.redis_connection import SyncRedis, connect
from tests.reliability.vendor_process import VendorProcess, running_vendors
from tests.support.redis import delete_prefix

BODY_LIMIT = 12 << 20
SHARED_OVERRIDES = {
    "VENDOR_MAX_BODY_BYTES": str(BODY_LIMIT),
    "VENDOR_LEASE_SECONDS": "5",
    "VENDOR_INFERENCE_TIMEOUT_SECONDS": "4",  # must stay below the lease
    "VENDOR_REAPER_INTERVAL_SECONDS": "0.5",
    # Everything the vendor can say goes to the log the secret scan reads.
    "VENDOR_LOG_LEVEL": "DEBUG",
}


@dataclass(frozen=True)
class Key:
    key_id: str
    api_key: str
    budget: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="package")
def shared_vendor(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VendorProcess]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    log_dir: Path = tmp_path_factory.mktemp("shared-vendor")
    try:
        with running_vendors(redis_url, prefix, log_dir, **SHARED_OVERRIDES) as (vendor,):
            yield vendor
    finally:
        delete_prefix(redis_url, prefix)


@pytest.fixture(scope="package")
def model_id(shared_vendor: VendorProcess) -> str:
    return shared_vendor.model_id()


@pytest.fixture
def new_key(shared_vendor: VendorProcess) -> Callable[..., Key]:
    """`new_key(budget)` -> a fresh Key on the shared vendor."""

    def make(budget: int = 100_000, name: str = "reliability") -> Key:
        key_id, api_key = shared_vendor.create_key(budget, name)
        return Key(key_id, api_key, budget)

    return make


@pytest.fixture
def ledger_redis(redis_url: str) -> Iterator[SyncRedis]:
    client = connect(redis_url, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()
