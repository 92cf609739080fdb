"""Waiting for replicas after a write that acknowledges money (VENDOR_REDIS_WAIT_REPLICAS).

Redis replicates asynchronously: a master acknowledges a write before any replica has it, so
a failover (a replica promoted after its master died) loses what the master acknowledged in
the last moments. `WAIT n ms` after a write returns once n replicas have everything this
connection wrote, or after ms with how many did. It must run on the same connection, right
after the write, on the node that took it: so it is queued in the write's own pipeline,
addressed to the node that serves the written key's slot.

A WAIT that comes back short does not undo the write (the master has it, and the buyer has
been served or is about to be): it is counted (`vendor_commits_unreplicated`) and logged, and
the docs say such charges are the ones a failover can still lose. A master that fell short
(its replica is down, or it was just promoted and has none yet) is not waited on again for a
second: its writes meanwhile are counted as unreplicated at once, instead of each waiting out
the timeout, and the next write after that second asks again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from shared.redis_connection import AsyncRedis

log = logging.getLogger(__name__)

WAIT_AUTO = "auto"


@dataclass
class ReplicaWait:
    """Wait for `replicas` replicas, at most `timeout_ms`, after a write; `short` is told the
    number that did acknowledge when fewer did (0 for a write not waited on, see above)."""

    replicas: int
    timeout_ms: int
    short: Callable[[int], None] | None = None
    retry_seconds: float = 1.0
    _fell_short: dict[str, float] = field(default_factory=dict)  # node -> monotonic until

    def worth_waiting(self, node: str) -> bool:
        """False for a second after `node` fell short."""
        until = self._fell_short.get(node)
        return until is None or until <= time.monotonic()

    def check(self, acknowledged: Any, node: str = "", writes: int = 1) -> None:
        """WAIT's reply on `node` (or the error in its place) against what was asked, for the
        `writes` writes it followed."""
        count = acknowledged if isinstance(acknowledged, int) else 0
        if count >= self.replicas:
            self._fell_short.pop(node, None)
            return
        log.warning("a write on %s reached %d of %d replicas within %d ms; its writes count as "
                    "unreplicated for %.0f s", node or "Redis", count, self.replicas,
                    self.timeout_ms, self.retry_seconds)  # fmt: skip
        self._fell_short[node] = time.monotonic() + self.retry_seconds
        for _ in range(writes):
            self.unreplicated(count)

    def unreplicated(self, count: int = 0) -> None:
        """A write that `count` replicas acknowledged, fewer than asked."""
        if self.short is not None:
            self.short(count)


async def queue_wait(pipe: Any, client: AsyncRedis, key: str, wait: ReplicaWait) -> None:
    """Queue WAIT in `pipe`, after the writes to `key`, on the connection that carries them."""
    if isinstance(client, aioredis.RedisCluster):
        if not client.nodes_manager.slots_cache:  # a client that has not sent anything yet
            await client.initialize()
        node = client.get_node_from_key(key)
        pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms, target_nodes=node)
    else:
        pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms)


def node_name(client: AsyncRedis, key: str) -> str:
    """Which server takes writes to `key`: the serving node's name on a cluster, else ''."""
    if isinstance(client, aioredis.RedisCluster) and client.nodes_manager.slots_cache:
        node = client.get_node_from_key(key)
        return "" if node is None else str(node.name)
    return ""


async def replicas_everywhere(client: AsyncRedis) -> int:
    """The fewest replicas any master has now: one server's connected replicas, or the
    minimum over a cluster's masters."""
    if isinstance(client, aioredis.RedisCluster):
        nodes: dict[str, dict[str, Any]] = await client.cluster_nodes()
        live = [info for info in nodes.values() if "fail" not in info["flags"]]
        masters = {info["node_id"]: 0 for info in live if "master" in info["flags"]}
        for info in live:
            if "slave" in info["flags"] and info["master_id"] in masters:
                masters[info["master_id"]] += 1
        return min(masters.values(), default=0)
    replication: dict[str, Any] = await client.info("replication")
    return int(replication.get("connected_slaves", 0))


async def resolve_wait(client: AsyncRedis, setting: int | str) -> int:
    """VENDOR_REDIS_WAIT_REPLICAS as a number: `auto` is 1 where every master has a replica
    at start-up, else 0 (nothing to wait for)."""
    if setting != WAIT_AUTO:
        return int(setting)
    replicas = await replicas_everywhere(client)
    chosen = 1 if replicas >= 1 else 0
    log.info("commits wait for %d replica(s) (VENDOR_REDIS_WAIT_REPLICAS=auto; every master "
             "has at least %d)", chosen, replicas)  # fmt: skip
    return chosen
