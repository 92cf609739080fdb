"""Client cache-hit benchmark (not a test): embeddings/s the client reads back from its cache.

In one run, against the real Redis at REDIS_URL (default the local one), under a throw-away
key prefix deleted at the end, for N cached embeddings of each dimension:
  per-key  one GET per key, no pipeline: the round-trip-bound way the tracker avoids
  bare     a bare redis-py pipeline of MGETs (1,000 keys each) of the same keys, each value
           decoded with `np.frombuffer`: the floor for reading them through redis-py
  cached   `BudgetTracker.cached(keys)`: the client's pipelined MGET into {key: embedding}
  acquire  `BudgetTracker.acquire(IMAGE, queries, teacher)` with every key cached: the whole hit
           path of a training run (dedup, cache read, hit counters in the run's record, the
           price from the model card, the (N, D) matrix stacked in query order)

    PYTHONPATH=. python benchmarks/bench_client_cache.py [--count 20000] [--dims 512,128]

The four are alternated round by round (per-key, bare, cached, acquire, per-key, ...) so a
noisy neighbour hits them alike; the median round of each is reported, and the ratios are of
medians. `acquire` talks to a real `TeacherClient` whose HTTP transport answers only
`GET /v1/models` (the card is read once, during warm-up, then cached by the client); anything
else it would send (a purchase) fails the run, so nothing is bought and nothing can be missed
silently.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable

import httpx
import numpy as np
import redis

from client_trainer.purchase.tracker import READ_CHUNK, BudgetTracker, Query
from client_trainer.teacher.client import TeacherClient
from shared.redis_server import redis_url_from_env
from shared.schemas import Modality, ModelCard, ModelList

TARGET = 20_000  # embeddings/s, issue 6
MODEL_ID = "bench-cache"
PRICE = 10


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load}, Python {platform.python_version()}"
    )


def content_keys(count: int, salt: str) -> list[str]:
    """Keys shaped like real content keys (sha256 hex)."""
    return [hashlib.sha256(f"{salt}:{i}".encode()).hexdigest() for i in range(count)]


def fill(client: redis.Redis, prefix: str, keys: list[str], dim: int) -> None:
    """Write unit-norm float32 embeddings under the tracker's own layout."""
    rng = np.random.default_rng(0)
    for start in range(0, len(keys), 2000):
        block = rng.standard_normal((min(2000, len(keys) - start), dim)).astype("<f4")
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        part = keys[start : start + len(block)]
        client.mset({f"{prefix}emb:{k}": row.tobytes() for k, row in zip(part, block, strict=True)})


def bare_read(client: redis.Redis, prefix: str, keys: list[str]) -> list[np.ndarray]:
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(keys), READ_CHUNK):
        pipe.mget([f"{prefix}emb:{k}" for k in keys[start : start + READ_CHUNK]])
    return [np.frombuffer(v, dtype="<f4") for chunk in pipe.execute() for v in chunk]


def per_key_read(client: redis.Redis, prefix: str, keys: list[str]) -> list[np.ndarray]:
    found = (client.get(f"{prefix}emb:{k}") for k in keys)
    return [np.frombuffer(v, dtype="<f4") for v in found if v is not None]


def card_only(dim: int) -> httpx.MockTransport:
    card = ModelCard(
        id=MODEL_ID,
        embedding_dim=dim,
        image_size=64,
        context_length=77,
        price_per_image=PRICE,
        price_per_text=1,
        max_inputs_per_request=64,
        max_image_bytes=1 << 20,
        max_text_chars=1000,
    )
    body = ModelList(data=[card]).model_dump_json().encode()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/v1/models":
            return httpx.Response(200, content=body, headers={"content-type": "application/json"})
        raise AssertionError(f"the hit path sent {request.method} {request.url.path}")

    return httpx.MockTransport(answer)


def timed(call: Callable[[], int]) -> float:
    """Embeddings per second of one call that returns how many it read."""
    started = time.perf_counter()
    n = call()
    return n / (time.perf_counter() - started)


def run_dim(client: redis.Redis, prefix: str, count: int, dim: int, rounds: int) -> None:
    keys = content_keys(count, f"{prefix}{dim}")
    fill(client, prefix, keys, dim)
    tracker = BudgetTracker(client, prefix, f"bench-{dim}", cap=None)
    queries = [Query(k, "") for k in keys]
    loop = asyncio.new_event_loop()
    teacher = TeacherClient("http://vendor.invalid", "sk-bench", transport=card_only(dim))

    def per_key() -> int:
        return len(per_key_read(client, prefix, keys))

    def bare() -> int:
        return len(bare_read(client, prefix, keys))

    def cached() -> int:
        return len(tracker.cached(keys))

    def acquire() -> int:
        matrix = loop.run_until_complete(tracker.acquire(Modality.IMAGE, queries, teacher))
        assert matrix.shape == (count, dim)
        return len(matrix)

    calls = {"per-key": per_key, "bare": bare, "cached": cached, "acquire": acquire}
    try:
        for call in calls.values():  # warm-up: connections, the model card, allocator
            call()
        rates: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                rates[name].append(timed(call))
        hits = tracker.record().cache_hits
        assert hits == (rounds + 1) * count, hits  # every acquire was all hits, none bought
    finally:
        loop.run_until_complete(teacher.aclose())
        loop.close()
    med = {name: statistics.median(r) for name, r in rates.items()}
    print(f"\n{count:,} cached {dim}-d embeddings, {rounds} alternated rounds (median; min-max):")
    for name, r in rates.items():
        print(
            f"  {name:8s} {med[name]:>10,.0f} embeddings/s ({min(r):,.0f}-{max(r):,.0f})"
            f"   x bare {med[name] / med['bare']:.2f}"
        )
    verdict = "met" if med["cached"] >= TARGET and med["acquire"] >= TARGET else "MISSED"
    print(
        f"  ratio cached/bare = {med['cached'] / med['bare']:.2f}, "
        f"acquire/bare = {med['acquire'] / med['bare']:.2f}, "
        f"cached/per-key = {med['cached'] / med['per-key']:.1f}; "
        f"target >= {TARGET:,}/s: {verdict}"
    )


def drop_prefix(client: redis.Redis, prefix: str) -> None:
    names = list(client.scan_iter(match=f"{prefix}*", count=5000))
    for start in range(0, len(names), 5000):
        client.delete(*names[start : start + 5000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=redis_url_from_env() or "redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=20_000, help="cached embeddings per dim")
    parser.add_argument("--dims", default="512,128", help="512 and the offline world's 128")
    parser.add_argument("--rounds", type=int, default=7, help="alternated timed rounds")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    client = redis.Redis.from_url(args.redis_url)
    print(f"redis: {args.redis_url} (server {client.info('server')['redis_version']})")
    prefix = f"bench:{secrets.token_hex(6)}:"
    try:
        for dim in (int(d) for d in args.dims.split(",")):
            run_dim(client, prefix, args.count, dim, args.rounds)
    finally:
        drop_prefix(client, prefix)
        client.close()
    print(f"\nmachine after: {machine()}")


if __name__ == "__main__":
    main()
