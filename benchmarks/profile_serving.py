"""Where a served request's time goes (not a test): three views, one run.

parts    one text request from one client through the in-process app (no HTTP), the time in
         each awaited step (authenticate, rate limits, reserve, batcher, forward, commit)
parsers  redis-py client CPU per call with its Python reply parser and with hiredis
py-spy   with --py-spy (needs `pip install py-spy`): the vendor process sampled for 10 s
         under one-image requests from 32 clients, samples bucketed by library

  PYTHONPATH=. python benchmarks/profile_serving.py [--py-spy] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import functools
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as bench

ADMIN = "p" * 40
BUCKETS = [
    ("forward (torch)", r"encode_images|encode_image"),
    ("redis client", r"redis/"),
    ("png decode / preprocess", r"PIL|decode_image|preprocess|codec"),
    ("uvicorn / event loop", r"uvicorn/|httptools|asyncio/|uvloop"),
    ("starlette / fastapi", r"starlette/|fastapi/"),
    ("vendor code", r"vendor_service/"),
]


async def request_parts(redis_url: str, model: str) -> dict[str, float]:
    from vendor_service.server.app import create_app
    from vendor_service.settings import Settings

    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                times[name].append(1000 * (time.perf_counter() - started))

        return wrapper

    def timed_future(name: str, fn: Any) -> Any:
        """For a call that returns a future at once: the time until that future is done."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            future = fn(*args, **kwargs)
            future.add_done_callback(
                lambda _: times[name].append(1000 * (time.perf_counter() - started))
            )
            return future

        return wrapper

    prefix = f"profile:{os.getpid()}:"
    settings = Settings(redis_url=redis_url, redis_prefix=prefix, admin_token=ADMIN, model=model,
                        pretrained="random", torch_threads=1)  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.vendor
        ledger = state.ledger
        ledger.authenticate_standing = timed("authenticate", ledger.authenticate_standing)
        state.rate_limiter.hit = timed("rate limits", state.rate_limiter.hit)
        state.ledger.reserve = timed("reserve", state.ledger.reserve)
        engine = state.engine
        engine.submit = timed_future("batcher (wait + forward)", engine.submit)
        state.ledger.commit = timed("commit", state.ledger.commit)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vendor") as client:
            admin = {"Authorization": f"Bearer {ADMIN}"}
            key = await client.post("/v1/admin/keys", json={"name": "p", "budget": 10**9},
                                    headers=admin)  # fmt: skip
            model_id = (await client.get("/v1/models")).json()["data"][0]["id"]
            auth = {"Authorization": f"Bearer {key.json()['api_key']}"}
            body = {"model": model_id, "input": ["a cat"]}
            for _ in range(150):
                started = time.perf_counter()
                await client.post("/v1/embeddings", json=body, headers=auth)
                times["whole request"].append(1000 * (time.perf_counter() - started))
    cleanup = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in cleanup.scan_iter(match=f"{prefix}*")]
    if keys:
        await cleanup.delete(*keys)
    await cleanup.aclose()
    return {name: statistics.median(values[30:]) for name, values in times.items()}


async def parser_cpu(redis_url: str, parser: Any, calls: int = 3000) -> dict[str, float]:
    pool = aioredis.ConnectionPool.from_url(redis_url, parser_class=parser)
    client = aioredis.Redis(connection_pool=pool)
    key = f"profile:{os.getpid()}:x"
    await client.set(key, "1")
    script = client.register_script("return {redis.call('get', KEYS[1]), ARGV[1], 3, 4}")
    out = {}
    for name, call in (("GET", lambda: client.get(key)), ("Lua", lambda: script([key], [5]))):
        for _ in range(200):
            await call()
        started = time.process_time()
        for _ in range(calls):
            await call()
        out[name] = 1e6 * (time.process_time() - started) / calls
    await client.delete(key)
    await client.aclose()
    return out


def py_spy_buckets(redis_url: str, model: str, seconds: int = 10) -> dict[str, float]:
    pngs = [bench.smooth_png(i, bench.model_image_size(model)) for i in range(256)]
    images = [base64.b64encode(p).decode() for p in pngs]
    out = Path(f"/tmp/profile-serving-{os.getpid()}.txt")
    with bench.serve(model, 1, redis_url) as server:
        bodies = bench.request_bodies(server.model_id, images, 1)
        spy = subprocess.Popen(
            ["py-spy", "record", "--pid", str(server.pid), "-d", str(seconds), "-r", "200",
             "--format", "raw", "-o", str(out), "--threads", "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        bench.measure(server, bodies, 1, 32, seconds + 1)
        spy.wait()
    counts: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        bucket = next((name for name, pattern in BUCKETS if re.search(pattern, stack)), "other")
        counts[bucket] += int(number)
    out.unlink()
    total = sum(counts.values())
    return {name: 100 * n / total for name, n in counts.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="bench-clip-64")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", bench.DEFAULT_REDIS))
    parser.add_argument("--py-spy", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; model {args.model}")
    print("\none text request, one client, in-process (p50 ms):")
    for name, ms in asyncio.run(request_parts(args.redis_url, args.model)).items():
        print(f"  {name:28s} {ms:6.2f}")
    print("\nredis-py client CPU per call (µs):")
    for label, cls in (("python parser", _AsyncRESP2Parser), ("hiredis", _AsyncHiredisParser)):
        cpu = asyncio.run(parser_cpu(args.redis_url, cls))
        print(f"  {label:14s} " + "  ".join(f"{k} {v:5.0f}" for k, v in cpu.items()))
    if args.py_spy:
        print("\nserver samples under 1-image requests from 32 clients (py-spy, %):")
        for name, share in py_spy_buckets(args.redis_url, args.model).items():
            print(f"  {name:28s} {share:5.1f}")


if __name__ == "__main__":
    main()
