"""CPU per request of two vendor settings, side by side in one process (not a test).

Throughput over HTTP on a shared 2-core machine moves by ±20 % from one run to the next,
more than most single changes to the request path are worth. This measures the steadier
number instead: the CPU time one sale costs. Two apps with the tiny random model run in this
process (ASGI, no sockets), each on its own Redis key prefix; 8 concurrent callers send
one-image (or one-text) requests to one app, then the other, in alternating rounds, and each
round's CPU time per request is read with `time.process_time()`. It prints each side's
median and the per-round ratio B/A: a change that saves CPU has its ratios below 1 in most
rounds.

    PYTHONPATH=. python benchmarks/bench_request_cpu.py --b VENDOR_AUTH_CACHE_SECONDS=2 \
        --a VENDOR_AUTH_CACHE_SECONDS=0 [--rounds 8] [--requests 320] [--modality image]

The HTTP client (httpx) runs in the same process, so its cost is in both sides alike: the
ratio understates a saving, never overstates it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as bench

from vendor_service.server.app import create_app
from vendor_service.settings import Settings

ADMIN = "bench-request-cpu-" + "x" * 24
CALLERS = 8


def settings_for(pairs: str, prefix: str, model: str, redis_url: str) -> Settings:
    """`NAME=VALUE,NAME=VALUE` (environment names) on top of the benchmark's base settings."""
    overrides = {}
    for pair in filter(None, pairs.split(",")):
        name, _, value = pair.partition("=")
        overrides[name.removeprefix("VENDOR_").lower()] = value
    base: dict[str, Any] = {
        "redis_url": redis_url, "redis_prefix": prefix, "admin_token": ADMIN, "model": model,
        "pretrained": "random", "torch_threads": 1, "inference_process": False,
        "rate_limit_requests": "1000000/second", "rate_limit_items": "10000000/second",
    }  # fmt: skip
    return Settings(**{**base, **overrides})


class Side:
    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], body: dict) -> None:
        self.client, self.headers, self.body = client, headers, body

    async def load(self, requests: int, inputs: list[str]) -> None:
        per_caller = requests // CALLERS

        async def caller(index: int) -> None:
            for n in range(per_caller):
                body = {**self.body, "input": [inputs[(index * per_caller + n) % len(inputs)]]}
                response = await self.client.post("/v1/embeddings", json=body, headers=self.headers)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        await asyncio.gather(*(caller(i) for i in range(CALLERS)))


async def open_side(stack: contextlib.AsyncExitStack, settings: Settings, modality: str) -> Side:
    app = create_app(settings)
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://vendor")
    await stack.enter_async_context(client)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    key = await client.post("/v1/admin/keys", json={"name": "b", "budget": 10**12}, headers=admin)
    model_id = (await client.get("/v1/models")).json()["data"][0]["id"]
    headers = {"Authorization": f"Bearer {key.json()['api_key']}"}
    return Side(client, headers, {"model": model_id, "modality": modality})


async def compare(args: argparse.Namespace) -> dict[str, list[float]]:
    size = bench.model_image_size(args.model)
    if args.modality == "image":
        inputs = [base64.b64encode(bench.smooth_png(i, size)).decode() for i in range(64)]
    else:
        inputs = [f"a photo of thing number {i}" for i in range(64)]
    per_round: dict[str, list[float]] = {"A": [], "B": []}
    async with contextlib.AsyncExitStack() as stack:
        sides = {
            name: await open_side(
                stack, settings_for(pairs, f"{args.prefix}{name}:", args.model, args.redis_url),
                args.modality,
            )
            for name, pairs in (("A", args.a), ("B", args.b))
        }  # fmt: skip
        for side in sides.values():
            await side.load(CALLERS * 10, inputs)  # warm-up
        for round_ in range(args.rounds):
            for name in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                started = time.process_time()
                await sides[name].load(args.requests, inputs)
                cpu = time.process_time() - started
                per_round[name].append(1000 * cpu / (args.requests // CALLERS * CALLERS))
    return per_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", default="", help="settings of side A: NAME=VALUE,...")
    parser.add_argument("--b", default="", help="settings of side B: NAME=VALUE,...")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=320, help="per side per round")
    parser.add_argument("--modality", choices=("image", "text"), default="image")
    parser.add_argument("--model", default="bench-clip-64")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", bench.DEFAULT_REDIS))
    args = parser.parse_args()
    args.prefix = f"bench-cpu:{os.getpid()}:"
    torch.set_num_threads(1)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; model {args.model}; "
          f"{args.modality} requests, {CALLERS} callers, in-process")  # fmt: skip
    print(f"A: {args.a or '(defaults)'}\nB: {args.b or '(defaults)'}")
    try:
        per_round = asyncio.run(compare(args))
    finally:
        client = redis.Redis.from_url(args.redis_url)
        stale = list(client.scan_iter(match=f"{args.prefix}*"))
        if stale:
            client.delete(*stale)
    for name, values in per_round.items():
        print(f"{name}: CPU per request, median {statistics.median(values):.3f} ms  "
              f"(rounds: {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
    ratios = [b / a for a, b in zip(per_round["A"], per_round["B"], strict=True)]
    below = sum(r < 1 for r in ratios)
    print(f"B/A per round: {', '.join(f'{r:.3f}' for r in ratios)}")
    median = statistics.median(ratios)
    print(f"B/A median {median:.3f}; B cheaper in {below} of {len(ratios)} rounds")


if __name__ == "__main__":
    main()
