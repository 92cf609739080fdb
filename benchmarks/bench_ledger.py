"""Ledger benchmark (not a test): what metering costs, against a real Redis.

In one run, side by side on the same connection and under the same noise:
  ping    a plain Redis PING round trip (the floor of any Redis call)
  meter   reserve.lua + commit.lua for one request (what metering adds to a sale),
          with an Idempotency-Key and a stored response of realistic size
  ops/s   reserve+commit pairs per second at several concurrencies, next to PINGs per second

    PYTHONPATH=. python benchmarks/bench_ledger.py [--redis-url URL] [--seconds 3]

Latencies are measured interleaved (ping, meter, ping, meter, ...), so a noisy neighbour hits
both alike. At the end the ledger is audited: spent == price x commits and nothing held.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis

from shared.redis_server import resolve_redis
from vendor_service.metering import Ledger, Reservation

COST = 10  # one image at the default price
RESPONSE_BYTES = 2_800  # one 512-d embedding as base64 + JSON around it


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load}, Python {platform.python_version()}"
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def meter_once(ledger: Ledger, key_id: str, head: bytes, idempotent: bool) -> None:
    held = await ledger.reserve(
        key_id,
        COST,
        1,
        0,
        secrets.token_hex(8) if idempotent else None,
        "fingerprint" if idempotent else "",
    )
    assert isinstance(held, Reservation)
    await ledger.commit(held, head, b"}}")


async def latencies(
    client: aioredis.Redis, ledger: Ledger, key_id: str, head: bytes, rounds: int
) -> dict[str, list[float]]:
    """Interleaved single-caller latencies in ms."""
    out: dict[str, list[float]] = {"ping": [], "meter": [], "meter_no_idem": []}
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "ping": client.ping,
        "meter": lambda: meter_once(ledger, key_id, head, True),
        "meter_no_idem": lambda: meter_once(ledger, key_id, head, False),
    }
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            out[name].append((time.perf_counter() - started) * 1000)
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


async def run(url: str, seconds: float, rounds: int) -> None:
    prefix = f"bench:{secrets.token_hex(6)}:"
    client = aioredis.from_url(url, max_connections=128)
    ledger = Ledger(client, prefix)
    created = await ledger.create_key("bench", 10**15)
    head = b'{"data":"' + b"x" * RESPONSE_BYTES + b'","budget_remaining":'
    commits = 0
    try:
        info = await client.info("server")
        print(f"machine: {machine()}")
        print(f"redis: {info['redis_version']} at {url}\n")
        for _ in range(200):  # warm connections and script caches
            await client.ping()
            await meter_once(ledger, created.key_id, head, True)
        commits += 200

        lat = await latencies(client, ledger, created.key_id, head, rounds)
        commits += 2 * rounds
        print(f"single caller, {rounds} interleaved rounds (ms):")
        for name, values in lat.items():
            print(f"  {name:14s} p50 {statistics.median(values):.3f}  p99 {pct(values, 0.99):.3f}")
        ping50, meter50 = statistics.median(lat["ping"]), statistics.median(lat["meter"])
        print(
            f"  metering adds p50 {meter50:.3f} ms per request (target <= 1 ms) = "
            f"{meter50 / ping50:.1f} x a PING round trip\n"
        )

        print("throughput (reserve+commit pairs/s vs PING/s, same concurrency):")
        for workers in (1, 16, 64):
            pings = await rate(client.ping, workers, seconds)
            before = await ledger.usage(created.key_id)
            pairs = await rate(
                lambda: meter_once(ledger, created.key_id, head, True), workers, seconds
            )
            after = await ledger.usage(created.key_id)
            commits += after.requests - before.requests
            print(
                f"  {workers:3d} callers: {pairs:8.0f} pairs/s  {pings:8.0f} pings/s  "
                f"ratio {pairs / pings:.2f}"
            )

        usage = await ledger.usage(created.key_id)
        assert usage.spent == COST * commits == COST * usage.requests, usage
        assert usage.reserved == 0 and usage.budget == usage.spent + usage.remaining
        print(f"\naudit: {commits} commits, spent {usage.spent} == {COST} x {commits}, reserved 0")
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        names = [name async for name in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(names), 1000):
            await client.delete(*names[start : start + 1000])
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-url", default=default_url, help="empty: an embedded Redis")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput point")
    parser.add_argument("--rounds", type=int, default=3000, help="interleaved latency rounds")
    args = parser.parse_args()
    endpoint = resolve_redis(args.redis_url or None, Path("runs/bench-redis"), "bench_ledger")
    try:
        asyncio.run(run(endpoint.url, args.seconds, args.rounds))
    finally:
        endpoint.close()


if __name__ == "__main__":
    main()
