"""Memory benchmark (not a test): peak RSS of the vendor and of a client, side by side.

In one run:
  vendor  peak RSS (kernel VmHWM) of a live vendor process when idle after warm-up, then
          after a short load of image requests (one-image and 32-image, concurrent clients)
  client  peak RSS of a client process (client_trainer's BudgetTracker) after its imports,
          then after reading N cached embeddings from Redis with pipelined MGETs; compared
          with the raw size of those embeddings (N x D x 4 bytes)

    PYTHONPATH=. python benchmarks/bench_memory.py [--model bench-clip-64] [--seconds 6]
        [--embeddings 20000] [--dim 512]

Linux only (reads /proc/<pid>/status). Uses the Redis at REDIS_URL (default the local one)
under a fresh key prefix that it deletes afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import redis
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
ADMIN = "bench-admin-token-" + secrets.token_hex(8)
MIB = 1 << 20


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak so far) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores, load average {load}"


# --- vendor -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def vendor(
    redis_url: str, prefix: str, model: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "VENDOR_REDIS_PREFIX": prefix,
        "VENDOR_ADMIN_TOKEN": ADMIN,
        "VENDOR_MODEL": model,
        "VENDOR_PRETRAINED": "random",
        "VENDOR_RATE_LIMIT_REQUESTS": "1000000/second",
        "VENDOR_RATE_LIMIT_ITEMS": "10000000/second",
        "VENDOR_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "vendor_service", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError("vendor not ready")
        yield process, base
    finally:
        process.terminate()
        process.wait(timeout=30)


def png_b64(seed: int, size: int) -> str:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    small.resize((size, size), Image.Resampling.BICUBIC).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


async def load(base: str, api_key: str, model_id: str, seconds: float, clients: int) -> int:
    """Concurrent image requests (odd clients send 1 image, even ones 32); items served."""
    images = [png_b64(seed, 224) for seed in range(64)]
    served = 0
    stop = time.monotonic() + seconds

    async def client(index: int) -> None:
        nonlocal served
        per = 32 if index % 2 == 0 else 1
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            turn = 0
            while time.monotonic() < stop:
                batch = [images[(turn + i) % len(images)] for i in range(per)]
                body = {"model": model_id, "input": batch, "modality": "image"}
                response = await http.post(
                    "/v1/embeddings", json=body, headers={"Authorization": f"Bearer {api_key}"}
                )
                response.raise_for_status()
                served += per
                turn += per

    await asyncio.gather(*(client(i) for i in range(clients)))
    return served


def measure_vendor(redis_url: str, model: str, seconds: float, clients: int) -> None:
    prefix = f"bench:{secrets.token_hex(6)}:"
    try:
        with vendor(redis_url, prefix, model) as (process, base):
            time.sleep(1.0)
            idle = memory_kib(process.pid)
            admin = {"Authorization": f"Bearer {ADMIN}"}
            created = httpx.post(
                f"{base}/v1/admin/keys", json={"name": "bench", "budget": 10**12}, headers=admin
            ).json()
            model_id = httpx.get(f"{base}/v1/models").json()["data"][0]["id"]
            served = asyncio.run(load(base, created["api_key"], model_id, seconds, clients))
            loaded = memory_kib(process.pid)
        print(f"vendor ({model}, 224x224 PNGs, {clients} clients, {seconds:.0f} s):")
        print(f"  idle after warm-up: RSS {mib(idle['VmRSS'])}, peak {mib(idle['VmHWM'])}")
        print(
            f"  after load ({served} images served): RSS {mib(loaded['VmRSS'])}, "
            f"peak {mib(loaded['VmHWM'])}  ratio peak/idle {loaded['VmHWM'] / idle['VmHWM']:.2f}"
        )
    finally:
        drop_prefix(redis_url, prefix)


# --- client -------------------------------------------------------------------------------
def client_probe(redis_url: str, prefix: str, count: int) -> None:
    """Runs in its own process: import the client, read `count` cached embeddings."""
    from client_trainer.purchase.tracker import BudgetTracker

    baseline = memory_kib(os.getpid())
    keys = [f"k{i:08d}" for i in range(count)]
    tracker = BudgetTracker(redis.Redis.from_url(redis_url), prefix, "bench", cap=None)
    started = time.perf_counter()
    cached = tracker.cached(keys)
    matrix = np.stack([cached[k] for k in keys])
    seconds = time.perf_counter() - started
    after = memory_kib(os.getpid())
    print(json.dumps({"baseline": baseline, "after": after, "seconds": seconds,
                      "shape": list(matrix.shape)}))  # fmt: skip


def measure_client(redis_url: str, count: int, dim: int) -> None:
    prefix = f"bench:{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(redis_url)
    try:
        rng = np.random.default_rng(0)
        for start in range(0, count, 5000):
            block = rng.standard_normal((min(5000, count - start), dim)).astype("<f4")
            client.mset(
                {f"{prefix}emb:k{start + i:08d}": row.tobytes() for i, row in enumerate(block)}
            )
        probe = subprocess.run(
            [sys.executable, __file__, "--client-probe", redis_url, prefix, str(count)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(probe.stdout.strip().splitlines()[-1])
        raw = count * dim * 4 / 1024
        grew = result["after"]["VmHWM"] - result["baseline"]["VmHWM"]
        print(f"client (BudgetTracker reading {count} cached {dim}-d embeddings):")
        print(f"  after imports: peak {mib(result['baseline']['VmHWM'])}")
        print(
            f"  after reading: peak {mib(result['after']['VmHWM'])} (+{mib(grew)} for "
            f"{mib(int(raw))} of float32)  ratio growth/raw {grew / raw:.2f}; "
            f"{count / result['seconds']:.0f} embeddings/s"
        )
    finally:
        drop_prefix(redis_url, prefix)
        client.close()


def drop_prefix(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    names = list(client.scan_iter(match=f"{prefix}*", count=5000))
    for start in range(0, len(names), 5000):
        client.delete(*names[start : start + 5000])
    client.close()


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--client-probe":
        client_probe(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--model", default="bench-clip-64", help="open_clip architecture")
    parser.add_argument("--seconds", type=float, default=6.0, help="vendor load duration")
    parser.add_argument("--clients", type=int, default=16, help="concurrent load clients")
    parser.add_argument("--embeddings", type=int, default=20_000, help="cached embeddings read")
    parser.add_argument("--dim", type=int, default=512, help="embedding dimension")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    measure_vendor(args.redis_url, args.model, args.seconds, args.clients)
    measure_client(args.redis_url, args.embeddings, args.dim)
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
