"""Serving benchmark of the vendor (not a test): raw model throughput vs served throughput.

In one run on one machine:
  raw    encode_images images/s of the model itself (batches of 32, same torch threads), at
         the start and again right before each server design's phases (the ratios use the
         latter: the machine's speed drifts); for the workers design also N such model
         processes at once (each worker has its own model)
  (a)    served images/s with 32-image requests from 4 and from 8 concurrent clients
  (b)    served images/s with one-image requests from 32 and from 64 concurrent clients
  lat    p50/p99 of one-image requests from one client, metered vs unmetered (VENDOR_UNMETERED)
  parts  where one request's time goes (JSON, base64, PNG decode, preprocessing, Redis)

Each server first takes 2 s of each request size, not counted, so that no phase measures a
server's first requests.

    PYTHONPATH=. python benchmarks/bench_serving.py [--model bench-clip-64] [--seconds 8]
        [--modes thread,process,workers] [--workers N]
    (a mode may carry settings for an A/B in one run: --modes workers,workers+VENDOR_MAX_WAIT_MS=4)

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams, in this
process, on the same cores as the server: its CPU cost is part of what is measured.
Every served phase runs against each server design in turn, so they compare in one run:
`thread` (one process; forward passes in a thread of it), `process` (forward passes in a child
process, VENDOR_INFERENCE_PROCESS=true) and `workers` (VENDOR_WORKERS=N HTTP worker processes,
each with its own model; N = the core count unless --workers says otherwise).
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
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import orjson
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ADMIN = "bench-admin-token-" + secrets.token_hex(8)


# --- workload -----------------------------------------------------------------------------
def smooth_png(seed: int, size: int) -> bytes:
    """A natural-looking image (smooth colour fields), PNG-encoded."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    small.resize((size, size), Image.Resampling.BICUBIC).save(buffer, format="PNG")
    return buffer.getvalue()


def request_bodies(model_id: str, images: list[str], per_request: int) -> list[bytes]:
    count = len(images) // per_request
    return [
        orjson.dumps(
            {
                "model": model_id,
                "input": images[i * per_request : (i + 1) * per_request],
                "modality": "image",
                "encoding_format": "base64",
            }
        )
        for i in range(count)
    ]


# --- a lean HTTP/1.1 client ---------------------------------------------------------------
class Connection:
    def __init__(self, host: str, port: int, api_key: str) -> None:
        self.host, self.port = host, port
        self.prefix = (
            f"POST /v1/embeddings HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api_key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.prefix + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class LoadResult:
    seconds: float
    items: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU seconds the server process used during the phase
    model_cpu: float = 0.0  # of which its model process (the process design), if it has one
    loadgen_cpu: float = 0.0  # CPU seconds of this process (the load generator)
    redis_cpu: float = 0.0  # CPU seconds of the Redis server (INFO cpu), when it reports them

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def rate(self) -> float:
        return self.items / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def drive(
    base: str, api_key: str, bodies: list[bytes], per_request: int, clients: int, seconds: float
) -> LoadResult:
    host, port = base.removeprefix("http://").split(":")
    stop_at = time.perf_counter() + seconds
    result = LoadResult(seconds)

    async def client(index: int) -> None:
        connection = Connection(host, int(port), api_key)
        i = index
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    status = await connection.post(bodies[i % len(bodies)])
                except (OSError, asyncio.IncompleteReadError):
                    status = 0
                    connection.close()
                    connection = Connection(host, int(port), api_key)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    result.items += per_request
                i += clients
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


# --- the server under test ----------------------------------------------------------------
@dataclass
class Server:
    base: str
    api_key: str
    model_id: str
    pid: int
    redis_url: str


def wait_until_ready(base: str, workers: int, seconds: float = 120) -> None:
    """Until every worker is warmed up (/metrics vendor_ready_workers): load that starts while
    only some listen pins its keep-alive connections to those."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            metrics = httpx.get(f"{base}/metrics", timeout=1).text
            if f"vendor_ready_workers {float(workers)}" in metrics:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base}: {workers} workers not ready after {seconds:.0f} s")


def free_port() -> int:
    """A port the kernel says is free now (a fixed range can collide with the ephemeral
    ports of outgoing connections, such as Redis clients')."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(
    model: str,
    threads: int,
    redis_url: str,
    env: Mapping[str, str] | None = None,
    repo: Path = REPO,
) -> Iterator[Server]:
    """A vendor subprocess with a key of (nearly) unlimited budget, running the code of
    checkout `repo` (this one unless told otherwise)."""
    port = free_port()
    prefix = f"bench:{secrets.token_hex(4)}:"
    environment = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "REDIS_URL": redis_url,
        "VENDOR_REDIS_PREFIX": prefix,
        "VENDOR_ADMIN_TOKEN": ADMIN,
        "VENDOR_MODEL": model,
        "VENDOR_PRETRAINED": "random",
        "VENDOR_TORCH_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "VENDOR_RATE_LIMIT_REQUESTS": "1000000/second",
        "VENDOR_RATE_LIMIT_ITEMS": "10000000/second",
        "VENDOR_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [sys.executable, "-m", "vendor_service", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, cwd=repo)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, int((env or {}).get("VENDOR_WORKERS", "1")))
        admin = {"Authorization": f"Bearer {ADMIN}"}
        key = httpx.post(
            f"{base}/v1/admin/keys", json={"name": "bench", "budget": 10**13}, headers=admin
        ).json()
        model_id = httpx.get(f"{base}/v1/models").json()["data"][0]["id"]
        yield Server(base, key["api_key"], model_id, process.pid, redis_url)
    finally:
        process.terminate()
        process.wait(timeout=30)
        cleanup = __import__("redis").Redis.from_url(redis_url)
        keys = list(cleanup.scan_iter(match=f"{prefix}*"))
        if keys:
            cleanup.delete(*keys)


# --- measurements -------------------------------------------------------------------------
def raw_throughput(model_name: str, threads: int, seconds: float, batch: int = 32) -> float:
    from vendor_service.engine.open_clip_model import OpenClipModel
    from vendor_service.settings import Settings

    torch.set_num_threads(threads)
    model = OpenClipModel(Settings(admin_token=ADMIN, model=model_name, pretrained="random"))
    size = model.info.image_size
    x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)  # as preprocess makes
    for _ in range(3):
        model.encode_images(x)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.encode_images(x)
        count += batch
    return count / (time.perf_counter() - started)


def time_us(fn: Callable[[], object], repeat: int = 200) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return 1e6 * (time.perf_counter() - started) / repeat


def request_parts(png: bytes, image_size: int, redis_url: str) -> dict[str, float]:
    """Microseconds per one-image request spent in each piece of work (in this process)."""
    from shared.codec import ImageLimits, decode_image, payload_to_bytes
    from shared.schemas import EmbeddingRequest
    from vendor_service.engine.preprocess import ClipPreprocess
    from vendor_service.sale.render import render_split

    b64 = base64.b64encode(png).decode()
    body = orjson.dumps({"model": "m", "input": [b64], "modality": "image"})
    limits = ImageLimits()
    raw = payload_to_bytes(b64, limits.max_bytes)
    image = decode_image(raw, limits)
    preprocess = ClipPreprocess(image_size)
    vectors = np.random.default_rng(0).standard_normal((1, 128)).astype(np.float32)
    parts = {
        "json parse + validate": time_us(
            lambda: EmbeddingRequest.model_validate(orjson.loads(body))
        ),
        "base64 decode": time_us(lambda: payload_to_bytes(b64, limits.max_bytes)),
        "PNG decode": time_us(lambda: decode_image(raw, limits)),
        "preprocess": time_us(lambda: preprocess(image)),
        "render response": time_us(
            lambda: render_split(
                vectors, "m", __import__("shared.schemas").schemas.EncodingFormat.BASE64, 1, 0, 10
            )
        ),
    }
    parts.update(asyncio.run(redis_parts(redis_url)))
    return parts


async def redis_parts(redis_url: str, repeat: int = 300) -> dict[str, float]:
    import redis.asyncio as aioredis

    from vendor_service.metering import Ledger, Reservation
    from vendor_service.metering.rate_limits import KeyRateLimiter

    prefix = f"bench:{secrets.token_hex(4)}:"
    client = aioredis.from_url(redis_url)
    ledger = Ledger(client, prefix)
    limiter = KeyRateLimiter(client, prefix, "1000000/second", "1000000/second")
    key = await ledger.create_key("bench", 10**12)

    async def timed(fn: Callable[[], object]) -> float:
        await fn()  # type: ignore[misc]
        started = time.perf_counter()
        for _ in range(repeat):
            await fn()  # type: ignore[misc]
        return 1e6 * (time.perf_counter() - started) / repeat

    async def reserve_commit() -> None:
        held = await ledger.reserve(key.key_id, 10, 1, 0)
        assert isinstance(held, Reservation)
        await ledger.commit(held, b"{", b"}")

    parts = {
        "redis: authenticate (1 RTT)": await timed(lambda: ledger.authenticate(key.api_key)),
        "redis: rate limits (both limits, 1 Lua)": await timed(lambda: limiter.hit(key.key_id, 1)),
        "redis: reserve + commit (2 Lua)": await timed(reserve_commit),
    }
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    return parts


def process_cpu_seconds(pid: int, children: bool = True) -> float:
    """user + system CPU seconds of a process and (unless `children=False`) its live children
    (a model process), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if not children:
        return own
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += (task / "children").read_text().split()
    return own + sum(process_cpu_seconds(int(kid)) for kid in kids)


def redis_cpu_seconds(redis_url: str) -> float:
    """used_cpu_user + used_cpu_sys of the Redis server, from INFO cpu."""
    info = __import__("redis").Redis.from_url(redis_url).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def cpu_seconds(server: Server) -> tuple[float, float, float]:
    """CPU seconds so far of the server (with its model process), this process, and Redis."""
    return process_cpu_seconds(server.pid), own_cpu_seconds(), redis_cpu_seconds(server.redis_url)


def measure(
    server: Server, bodies: list[bytes], per: int, clients: int, seconds: float
) -> LoadResult:
    before = (
        process_cpu_seconds(server.pid),
        own_cpu_seconds(),
        redis_cpu_seconds(server.redis_url),
        process_cpu_seconds(server.pid, children=False),
    )
    result = asyncio.run(drive(server.base, server.api_key, bodies, per, clients, seconds))
    after = (
        process_cpu_seconds(server.pid),
        own_cpu_seconds(),
        redis_cpu_seconds(server.redis_url),
        process_cpu_seconds(server.pid, children=False),
    )
    result.server_cpu, result.loadgen_cpu, result.redis_cpu, alone = (
        b - a for a, b in zip(before, after, strict=True)
    )
    result.model_cpu = result.server_cpu - alone  # workers: their CPU, not a model's
    return result


Row = tuple[str, LoadResult]


def raw_in_processes(model_name: str, threads: int, processes: int, seconds: float) -> float:
    """Summed raw images/s of `processes` model processes running at once: the forward
    capacity a server with that many workers has (what its rows compare against)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(raw_throughput, model_name, threads, seconds) for _ in range(processes)
        ]
        return sum(future.result() for future in futures)


def print_table(rows: list[Row], raws: dict[str, float], capacities: dict[str, float]) -> None:
    """Per phase: throughput; its ratio to the raw rate of one model (`x raw`) and to the raw
    forward capacity of the same design (`x cap`: one model for thread and process, one per
    worker for workers), both measured right before that design's phases (by mode); latency;
    and CPU ms per image of the server, the load generator and Redis, and how busy they kept
    the machine's cores between them; `model` is how busy the model process was (the process
    design: at 100 % it, not the HTTP side, bounds the phase)."""
    print(f"\n{'phase':64s} {'img/s':>6s} {'x raw':>6s} {'x cap':>6s} {'p50 ms':>7s} "
          f"{'p99 ms':>7s} {'CPU ms/img: srv':>15s} {'gen':>5s} {'redis':>5s} {'busy':>5s}"
          f" {'model':>5s}  statuses")  # fmt: skip
    cores = os.cpu_count() or 1
    for label, r in rows:
        per = [1000 * cpu / max(1, r.items) for cpu in (r.server_cpu, r.loadgen_cpu, r.redis_cpu)]
        busy = (r.server_cpu + r.loadgen_cpu + r.redis_cpu) / (cores * r.seconds)
        mode = label[1 : label.index("]")]
        model = f"{r.model_cpu / r.seconds:5.0%}" if "process" in mode else f"{'-':>5s}"
        print(f"{label:64s} {r.rate():6.0f} {r.rate() / raws[mode]:6.2f} "
              f"{r.rate() / capacities[mode]:6.2f} {r.pct(0.5):7.2f} "
              f"{r.pct(0.99):7.2f} {per[0]:15.2f} {per[1]:5.2f} {per[2]:5.2f} {busy:5.0%}"
              f" {model}  {dict(r.statuses)}")  # fmt: skip


def model_image_size(model: str) -> int:
    path = REPO / "vendor_service/engine/model_configs" / f"{model}.json"
    config = json.loads(path.read_text())
    return int(config["vision_cfg"]["image_size"])


def phases(server: Server, images: list[str], seconds: float, mode: str) -> list[Row]:
    """(a) and (b) against one server; `mode` labels the rows. A short load first, not
    counted: no phase measures the server's first requests."""
    big = request_bodies(server.model_id, images, 32)
    one = request_bodies(server.model_id, images, 1)
    measure(server, big, 32, 8, WARM_UP_SECONDS)
    measure(server, one, 1, 32, WARM_UP_SECONDS)
    rows = [
        (f"[{mode}] (a) 32-image requests, {c} clients", measure(server, big, 32, c, seconds))
        for c in (4, 8)
    ]
    for clients in (32, 64):
        label = f"[{mode}] (b) 1-image requests, {clients} clients"
        rows.append((label, measure(server, one, 1, clients, seconds)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="bench-clip-64")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (raw and served)")
    parser.add_argument("--seconds", type=float, default=8.0, help="per throughput phase")
    parser.add_argument(
        "--modes", default="thread,process,workers",
        help="server designs, in turn: thread, process (VENDOR_INFERENCE_PROCESS), workers;"
        " each may add settings: workers+VENDOR_MAX_WAIT_MS=4",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="VENDOR_WORKERS of the workers mode")  # fmt: skip
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    designs = server_designs(args.workers)
    modes = [mode for mode in args.modes.split(",") if mode]
    if unknown := {mode.split("+")[0] for mode in modes} - set(designs):
        parser.error(f"unknown modes {sorted(unknown)}; known: {', '.join(designs)}")
    if bad := [item for mode in modes for item in mode.split("+")[1:] if "=" not in item]:
        parser.error(f"settings in a mode are NAME=VALUE, not {bad}")
    load = os.getloadavg()[0]
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at start; "
          f"torch threads {args.threads}; model {args.model}")  # fmt: skip
    print(f"raw encode_images (batch 32) at the start: "
          f"{raw_throughput(args.model, args.threads, seconds=5):.0f} images/s")  # fmt: skip
    size = model_image_size(args.model)
    pngs = [smooth_png(i, size) for i in range(512)]
    images = [base64.b64encode(p).decode() for p in pngs]
    print(f"request images: {size}x{size} PNG, {statistics.mean(map(len, pngs)):.0f} bytes each")

    rows: list[Row] = []
    latency: list[tuple[str, LoadResult]] = []
    raws: dict[str, float] = {}  # one model's raw rate, measured right before each design
    capacities: dict[str, float] = {}  # the raw rate of as many models as the design has
    for mode in labelled(modes):
        design, *settings = mode.split(" #")[0].split("+")
        # The machine's speed drifts over a run (±10 % in minutes here): each design is
        # compared with the raw rate measured next to its own phases, not the run's first.
        raws[mode] = capacities[mode] = raw_throughput(args.model, args.threads, seconds=4)
        note = ""
        if design == "workers":
            capacities[mode] = raw_in_processes(args.model, args.threads, args.workers, 4)
            note = f"; {capacities[mode]:.0f} in {args.workers} processes at once (x cap)"
        print(f"raw right before [{mode}]: {raws[mode]:.0f} images/s{note}")
        env = {**designs[design], **dict(item.split("=", 1) for item in settings)}
        unmetered_env = {**env, **UNMETERED}
        with (
            serve(args.model, args.threads, args.redis_url, env) as metered,
            serve(args.model, args.threads, args.redis_url, unmetered_env) as unmetered,
        ):
            rows += phases(metered, images, args.seconds, mode)
            label = f"[{mode}] (b) 1-image, 32 clients, UNMETERED"
            rows.append((label, measure(unmetered, _one(unmetered, images), 1, 32, args.seconds)))
            latency += alternate_latency(mode, metered, unmetered, images, args.seconds)
    print_table(rows, raws, capacities)
    print("\none-image latency, one client at a time:")
    for label, r in latency:
        print(f"  {label:40s} p50 {r.pct(0.5):6.2f} ms  p99 {r.pct(0.99):6.2f} ms  "
              f"({len(r.latencies)} requests, {r.errors} errors)")  # fmt: skip
    for mode in labelled(modes):
        by = dict(latency)
        added = by[f"[{mode}] metered"].pct(0.5) - by[f"[{mode}] unmetered"].pct(0.5)
        print(f"  [{mode}] metering adds {added:+.2f} ms at p50")
    print("\nwhere one 1-image request's time goes (µs, measured in-process):")
    for part, micros in request_parts(pngs[0], size, args.redis_url).items():
        print(f"  {part:40s} {micros:8.0f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


def server_designs(workers: int) -> dict[str, dict[str, str]]:
    """The server designs compared, as the settings that make each."""
    return {
        "thread": {"VENDOR_INFERENCE_PROCESS": "false"},
        "process": {"VENDOR_INFERENCE_PROCESS": "true"},
        "workers": {"VENDOR_WORKERS": str(workers)},
    }


# Load before a server's measured phases, not counted (seconds per request size).
WARM_UP_SECONDS = 2.0

# The benchmark switch (dev mode only): the same server with no ledger at all.
UNMETERED = {"VENDOR_DEV_MODE": "true", "VENDOR_UNMETERED": "true"}


def labelled(modes: list[str]) -> list[str]:
    """Each mode once more with " #2", " #3"... where a run repeats it (A/B/A/B)."""
    return [mode if not modes[:i].count(mode) else f"{mode} #{modes[:i].count(mode) + 1}"
            for i, mode in enumerate(modes)]  # fmt: skip


def alternate_latency(
    mode: str,
    metered: Server,
    unmetered: Server,
    images: list[str],
    seconds: float,
    rounds: int = 6,
) -> list[tuple[str, LoadResult]]:
    """One-client latency of both servers (both running), in alternating short rounds, so
    load that comes and goes hits both alike; the rounds' requests are pooled."""
    pooled = {"metered": LoadResult(0.0), "unmetered": LoadResult(0.0)}
    rounds = 6
    for _ in range(rounds):
        for name, server in (("metered", metered), ("unmetered", unmetered)):
            result = measure(server, _one(server, images), 1, 1, seconds / rounds)
            pooled[name].latencies += result.latencies
            for status, count in result.statuses.items():
                pooled[name].statuses[status] = pooled[name].statuses.get(status, 0) + count
    return [(f"[{mode}] {name}", result) for name, result in pooled.items()]


def _one(server: Server, images: list[str]) -> list[bytes]:
    return request_bodies(server.model_id, images, 1)


if __name__ == "__main__":
    main()
