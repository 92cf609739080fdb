"""Opening Redis, for the vendor and the client alike: one server or a Redis Cluster, sync or
async, chosen by the URL.

- `redis://[[user]:password@]host:port[/db]`, `rediss://...` (TLS), `unix:///path.sock`: one
  server, as redis-py reads these URLs;
- `redis+cluster://[[user]:password@]host:port[,host:port...]`: a Redis Cluster. The nodes
  listed are where the client starts; it asks them for the rest of the cluster, so one
  reachable node is enough and listing several survives one being down. A cluster has only
  database 0. `rediss+cluster://` is the same over TLS. (`redis+cluster://` is the scheme the
  `limits` library uses for a cluster.)

Keys that one Lua script touches must live in one hash slot on a cluster: the vendor tags
every key of one API key with `{<key_id>}` (see vendor_service/metering/ledger.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis
import redis.asyncio as aioredis
from redis import exceptions as errors
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.cluster import ClusterNode

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS

SyncRedis = redis.Redis | redis.RedisCluster
AsyncRedis = aioredis.Redis | aioredis.RedisCluster

# Errors that say Redis (or the part of a cluster that holds a key) cannot answer now: a lost
# connection, a time-out, a cluster failing over (CLUSTERDOWN, TRYAGAIN, redirections that
# outlived the client's retries, a write that reached a replica being demoted), a slot no
# node serves. Not a wrong command: a caller may retry later.
OUTAGES: tuple[type[Exception], ...] = (
    errors.ConnectionError,
    errors.TimeoutError,
    errors.ClusterError,
    errors.TryAgainError,
    errors.AskError,
    errors.ReadOnlyError,
    errors.SlotNotCoveredError,
    errors.RedisClusterUnreachableError,
)


@dataclass(frozen=True)
class ClusterAddress:
    """Where a Redis Cluster starts: its seed nodes and how to log in."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def cluster_address(url: str) -> ClusterAddress:
    """`redis+cluster://[[user]:password@]host:port[,host:port...][/0]` -> ClusterAddress;
    ValueError saying what is wrong."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError(f"not a Redis Cluster URL: {scheme!r} (redis+cluster:// or rediss+...)")
    if "?" in rest:
        raise ValueError("a redis+cluster:// URL takes no query options")
    netloc, _, path = rest.partition("/")
    if path not in ("", "0"):
        raise ValueError(f"a Redis Cluster has only database 0, not {path!r}")
    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    nodes = tuple(_host_port(part) for part in hosts.split(","))
    return ClusterAddress(
        nodes,
        unquote(username) or None,
        unquote(password) or None,
        CLUSTER_SCHEMES[scheme.lower()],
    )


def check_redis_url(url: str) -> None:
    """ValueError with a readable message when `url` cannot name a Redis."""
    if is_cluster_url(url):
        cluster_address(url)
        return
    scheme = url.partition("://")[0].lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"REDIS_URL {url!r} must start with redis://, rediss://, unix://, redis+cluster:// "
            "or rediss+cluster://"
        )


def connect(url: str, **options: Any) -> SyncRedis:
    """A synchronous client for `url` (one server or a cluster); `options` go to redis-py."""
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    address = cluster_address(url)
    nodes = [ClusterNode(host, port) for host, port in address.nodes]
    return redis.RedisCluster(startup_nodes=nodes, **_login(address), **options)


def connect_async(url: str, max_connections: int | None = None, **options: Any) -> AsyncRedis:
    """An asyncio client for `url`. With `max_connections` on one server, callers beyond it
    wait (up to 5 s) for a free connection; on a cluster it is the most per node."""
    if is_cluster_url(url):
        address = cluster_address(url)
        nodes = [AsyncClusterNode(host, port) for host, port in address.nodes]
        if max_connections is not None:
            options["max_connections"] = max_connections
        return aioredis.RedisCluster(startup_nodes=nodes, **_login(address), **options)
    if max_connections is None:
        return aioredis.Redis.from_url(url, **options)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, **options
    )
    return aioredis.Redis(connection_pool=pool)


def _login(address: ClusterAddress) -> dict[str, Any]:
    return {"username": address.username, "password": address.password, "ssl": address.tls}


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")  # an IPv6 address is written [::1]:7000
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a Redis Cluster node is host:port, not {text!r}")
    return host, int(port)
