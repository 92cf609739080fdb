"""Fixtures every test may use: a real Redis on the test's own key prefix, a real Redis Cluster
(three masters, three replicas, started once per session when a test asks for it), a live
vendor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.redis_server import RedisEndpoint
from tests.support.live_vendor import LiveVendor, live_vendor
from tests.support.redis import delete_prefix, find_test_redis
from tests.support.redis_cluster import ClusterUnavailable, LocalCluster

REDIS_KINDS = ("single", "cluster")


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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A Redis Cluster on loopback ports for the whole session; every node killed at its end."""
    try:
        cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no Redis Cluster can start here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: LocalCluster) -> str:
    return redis_cluster.url


@pytest.fixture(params=REDIS_KINDS)
def each_redis_url(request: pytest.FixtureRequest) -> str:
    """The test runs twice: on one Redis server, and on the Redis Cluster."""
    # By the session's endpoint, not `redis_url`: a module may override `redis_url` with this.
    if request.param == "single":
        return str(request.getfixturevalue("redis_endpoint").url)
    return str(request.getfixturevalue("redis_cluster_url"))


@pytest.fixture
def each_redis_prefix(each_redis_url: str) -> Iterator[str]:
    """`redis_prefix`, on whichever Redis `each_redis_url` is."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(each_redis_url, prefix)


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
