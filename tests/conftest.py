"""Fixtures every test may use: a real Redis on the test's own key prefix, a live vendor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.redis_server import RedisEndpoint
from tests.support.live_vendor import LiveVendor, live_vendor
from tests.support.redis import delete_prefix, find_test_redis


@pytest.fixture(scope="session")
def redis_endpoint() -> Iterator[RedisEndpoint]:
    endpoint = find_test_redis()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="session")
def redis_url(redis_endpoint: RedisEndpoint) -> str:
    return redis_endpoint.url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(scope="module")
def vendor(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVendor]:
    """A live vendor process (tiny random model) shared by one test module."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    log_dir: Path = tmp_path_factory.mktemp("vendor")
    try:
        with live_vendor(redis_url, prefix, log_dir) as running:
            yield running
    finally:
        delete_prefix(redis_url, prefix)
