"""Ledger benchmark (not a test): what metering costs, against a real Redis, and with
`--cluster` the same against a Redis Cluster (three masters, three replicas, on loopback),
with and without commits waiting for a replica (VENDOR_REDIS_WAIT_REPLICAS=1). With
`--cluster` the single Redis is a private redis-server started the same way as the
cluster's nodes (same binary, no persistence, nobody else's traffic).

In one run, side by side on the same machine and under the same noise, per Redis:
  ping    a plain Redis PING round trip (the floor of any Redis call)
  meter   reserve.lua + commit.lua for one request (what metering adds to a sale),
          with an Idempotency-Key and a stored response of realistic size
  ops/s   reserve+commit pairs per second at several concurrencies, next to PINGs per second

    PYTHONPATH=. python benchmarks/bench_ledger.py [--redis-url URL] [--seconds 3] [--cluster]

The calls go to KEYS API keys in turn (on a cluster their hash tags spread them over the
masters). Latencies are measured interleaved (ping, meter, ... for each Redis in turn), so a
noisy neighbour hits all alike; throughput points alternate between the Redis servers. At the
end each ledger is audited: spent == price x commits and nothing held.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from shared.redis_connection import AsyncRedis, connect_async
from shared.redis_server import resolve_redis
from vendor_service.metering import Ledger, Reservation
from vendor_service.metering.replication import ReplicaWait

COST = 10  # one image at the default price
RESPONSE_BYTES = 2_800  # one 512-d embedding as base64 + JSON around it
KEYS = 24
WAIT_TIMEOUT_MS = 100
HEAD = b'{"data":"' + b"x" * RESPONSE_BYTES + b'","budget_remaining":'


@dataclass
class Target:
    """One Redis under test: its client, a ledger on it and the keys the calls go to."""

    name: str
    client: AsyncRedis
    ledger: Ledger
    key_ids: list[str]
    commits: int = 0
    turn: int = 0

    async def meter(self, idempotent: bool = True) -> None:
        """reserve + commit of one request, on the next key in turn."""
        self.turn += 1
        key_id = self.key_ids[self.turn % len(self.key_ids)]
        held = await self.ledger.reserve(
            key_id, COST, 1, 0,
            secrets.token_hex(8) if idempotent else None, "fingerprint" if idempotent else "",
        )  # fmt: skip
        assert isinstance(held, Reservation)
        await self.ledger.commit(held, HEAD, b"}}")
        self.commits += 1


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load}, Python {platform.python_version()}"
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_target(name: str, url: str, prefix: str, replicas: int) -> Target:
    client = connect_async(url, max_connections=128)
    wait = ReplicaWait(replicas, WAIT_TIMEOUT_MS) if replicas else None
    ledger = Ledger(client, prefix, wait=wait)
    key_ids = [(await ledger.create_key("bench", 10**15)).key_id for _ in range(KEYS)]
    return Target(name, client, ledger, key_ids)


async def latencies(targets: list[Target], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Interleaved single-caller latencies in ms, per target and call."""
    out: dict[str, dict[str, list[float]]] = {
        t.name: {"ping": [], "meter": [], "meter_no_idem": []} for t in targets
    }
    for _ in range(rounds):
        for target in targets:
            calls: dict[str, Callable[[], Awaitable[object]]] = {
                "ping": target.client.ping,
                "meter": target.meter,
                "meter_no_idem": lambda target=target: target.meter(idempotent=False),
            }
            for name, call in calls.items():
                started = time.perf_counter()
                await call()
                out[target.name][name].append((time.perf_counter() - started) * 1000)
    return out


async def rate(call: Callable[[], Awaitable[object]], workers: int, seconds: float) -> float:
    """Completed calls per second with `workers` concurrent callers."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - started)


async def audit(target: Target) -> None:
    spent = requests = 0
    for key_id in target.key_ids:
        usage = await target.ledger.usage(key_id)
        assert usage.reserved == 0 and usage.budget == usage.spent + usage.remaining, usage
        spent, requests = spent + usage.spent, requests + usage.requests
    assert requests == target.commits and spent == COST * target.commits, (spent, target.commits)
    print(f"  {target.name}: {target.commits} commits, spent {spent} == {COST} x "
          f"{target.commits}, reserved 0")  # fmt: skip


async def run(targets: list[Target], seconds: float, rounds: int) -> None:
    for target in targets:
        info = await target.client.info("server")
        version = info.get("redis_version") or next(  # a cluster answers per node
            v["redis_version"] for v in info.values() if isinstance(v, dict)
        )
        print(f"{target.name}: Redis {version}")
        for _ in range(200):  # warm connections and script caches
            await target.client.ping()
            await target.meter()
    print(f"machine: {machine()}\n")

    lat = await latencies(targets, rounds)
    print(f"single caller, {rounds} interleaved rounds (ms):")
    for target in targets:
        for name, values in lat[target.name].items():
            print(f"  {target.name:16s} {name:14s} p50 {statistics.median(values):.3f}  "
                  f"p99 {pct(values, 0.99):.3f}")  # fmt: skip
        ping50, meter50 = (statistics.median(lat[target.name][n]) for n in ("ping", "meter"))
        print(f"  {target.name:16s} metering adds p50 {meter50:.3f} ms per request "
              f"= {meter50 / ping50:.1f} x a PING round trip")  # fmt: skip

    print("\nthroughput (reserve+commit pairs/s vs PING/s, same concurrency):")
    for workers in (1, 16, 64):
        for target in targets:
            pings = await rate(target.client.ping, workers, seconds)
            pairs = await rate(target.meter, workers, seconds)
            print(f"  {target.name:16s} {workers:3d} callers: {pairs:8.0f} pairs/s  "
                  f"{pings:8.0f} pings/s  ratio {pairs / pings:.2f}")  # fmt: skip

    print("\naudit:")
    for target in targets:
        await audit(target)
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def main_async(urls: dict[str, tuple[str, int]], seconds: float, rounds: int) -> None:
    prefix = f"bench:{secrets.token_hex(6)}:"
    targets = [await open_target(name, url, prefix, wait) for name, (url, wait) in urls.items()]
    try:
        await run(targets, seconds, rounds)
    finally:
        for target in targets:
            if target.name == "single":  # a started cluster is thrown away whole
                names = [n async for n in target.client.scan_iter(match=f"{prefix}*", count=1000)]
                for start in range(0, len(names), 1000):
                    await target.client.delete(*names[start : start + 1000])
            await target.client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-url", default=default_url, help="empty: an embedded Redis")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput point")
    parser.add_argument("--rounds", type=int, default=3000, help="interleaved latency rounds")
    parser.add_argument(
        "--cluster", action="store_true", help="also measure a Redis Cluster started on loopback"
    )
    args = parser.parse_args()
    if args.cluster:
        run_with_cluster(args.seconds, args.rounds)
        return
    endpoint = resolve_redis(args.redis_url or None, Path("runs/bench-redis"), "bench_ledger")
    try:
        asyncio.run(main_async({"single": (endpoint.url, 0)}, args.seconds, args.rounds))
    finally:
        endpoint.close()


def run_with_cluster(seconds: float, rounds: int) -> None:
    """A private single server and a cluster, both started here and both stopped after."""
    from tests.support.redis_cluster import LocalCluster, LocalServer

    root = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    server, cluster = LocalServer(root / "single"), LocalCluster(root / "cluster")
    try:
        server.start()
        cluster.start()
        urls = {"single": (server.url, 0), "cluster": (cluster.url, 0),
                "cluster WAIT 1": (cluster.url, 1)}  # fmt: skip
        asyncio.run(main_async(urls, seconds, rounds))
    finally:
        cluster.stop()
        server.stop()


if __name__ == "__main__":
    main()
