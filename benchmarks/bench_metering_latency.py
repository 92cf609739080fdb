"""What metering adds to one-image latency, every server design up at once (not a test).

`bench_serving.py` measures metering design by design, minutes apart, so a slow stretch of
the machine lands on one design only. Here the metered and the unmetered server of each
design run side by side, and one client at a time sends one-image requests to each in turn,
in short alternating rounds; a round's requests are pooled per server.

    PYTHONPATH=. python benchmarks/bench_metering_latency.py [--modes thread,process,workers]
        [--rounds 8] [--seconds 1] [--heavy]   # --heavy: load each server hard first
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="bench-clip-64")
    parser.add_argument("--modes", default="thread,process,workers")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0, help="per server and round")
    parser.add_argument("--heavy", action="store_true", help="load every server hard first")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", bench.DEFAULT_REDIS))
    args = parser.parse_args()
    modes = [mode for mode in args.modes.split(",") if mode]
    designs = bench.server_designs(os.cpu_count() or 2)
    size = bench.model_image_size(args.model)
    images = [base64.b64encode(bench.smooth_png(i, size)).decode() for i in range(64)]
    with ExitStack() as stack:
        servers = {}
        for mode in modes:
            for kind, extra in (("metered", {}), ("unmetered", bench.UNMETERED)):
                env = {**designs[mode], **extra}
                server = stack.enter_context(bench.serve(args.model, 1, args.redis_url, env))
                servers[f"[{mode}] {kind}"] = server
        bodies = {name: bench.request_bodies(s.model_id, images, 1) for name, s in servers.items()}
        if args.heavy:
            for name, server in servers.items():
                bench.measure(server, bodies[name], 1, 64, 8)
        pooled: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, server in servers.items():
                pooled[name] += bench.measure(server, bodies[name], 1, 1, args.seconds).latencies
    p50 = {name: 1000 * sorted(values)[len(values) // 2] for name, values in pooled.items()}
    for name, values in pooled.items():
        print(f"{name:24s} p50 {p50[name]:6.2f} ms  ({len(values)} requests)")
    for mode in modes:
        added = p50[f"[{mode}] metered"] - p50[f"[{mode}] unmetered"]
        print(f"[{mode}] metering adds {added:+.2f} ms at p50")


if __name__ == "__main__":
    main()
