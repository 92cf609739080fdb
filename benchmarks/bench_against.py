"""This checkout against a git ref, served side by side (not a test).

For a change to the request path: the vendor of this working tree and the vendor of `--base`
(a temporary `git worktree` of it) run at once, and one-image requests from 32 clients
(metered, bench_serving's (b) load) go to one, then the other, in alternating rounds. Per round
and side it prints the images/s, p50 and p99, and the CPU milliseconds per request of the server's
own process (HTTP, metering, decoding: what a change to the request path moves) and of the
server with its model process. The machine's speed drifts by more than most changes are
worth, so the verdict is the per-round ratio this/base, not two separate runs.

    PYTHONPATH=. python benchmarks/bench_against.py [--base HEAD] [--rounds 6] [--seconds 5]
        [--clients 32] [--env VENDOR_NAME=VALUE ...] [--base-env VENDOR_NAME=VALUE ...]

With no local changes it is an A/A run: how far two identical servers differ here; with
`--base-env` as well, it compares settings on the same code (`--base-env
VENDOR_GC_THRESHOLD=0`: Python's own garbage collector settings against the vendor's).
With `--clients 1` it measures one-image latency instead, the per-round p50 difference;
`--base-env VENDOR_DEV_MODE=true VENDOR_UNMETERED=true` then gives what metering adds.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as bench

SIDES = ("base", "this")


@dataclass
class Round:
    rate: float
    p50_ms: float
    p99_ms: float
    own_ms: float  # server process CPU per request, its model process excluded
    all_ms: float  # with its model process
    statuses: dict[int, int]


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A detached checkout of `ref` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-against-") as folder:
        path = Path(folder) / "checkout"
        git = ["git", "-C", str(bench.REPO)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(path), ref], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


def one_round(server: bench.Server, bodies: list[bytes], clients: int, seconds: float) -> Round:
    before = bench.process_cpu_seconds(server.pid, children=False)
    result = bench.measure(server, bodies, 1, clients, seconds)
    own = bench.process_cpu_seconds(server.pid, children=False) - before
    per = 1000 / max(1, result.items)
    return Round(result.rate(), result.pct(0.5), result.pct(0.99), own * per,
                 result.server_cpu * per, dict(result.statuses))  # fmt: skip


def compare(args: argparse.Namespace, base: Path) -> dict[str, list[Round]]:
    env = dict(pair.split("=", 1) for pair in args.env)
    envs = {"base": {**env, **dict(pair.split("=", 1) for pair in args.base_env)}, "this": env}
    size = bench.model_image_size(args.model)
    images = [base64.b64encode(bench.smooth_png(i, size)).decode() for i in range(256)]
    rounds: dict[str, list[Round]] = {side: [] for side in SIDES}
    with contextlib.ExitStack() as stack:
        servers = {
            side: stack.enter_context(bench.serve(args.model, 1, args.redis_url, envs[side], repo))
            for side, repo in zip(SIDES, (base, bench.REPO), strict=True)
        }
        bodies = {side: bench.request_bodies(s.model_id, images, 1) for side, s in servers.items()}
        for side, server in servers.items():  # warm-up
            bench.measure(server, bodies[side], 1, args.clients, 2)
        for number in range(args.rounds):
            for side in SIDES if number % 2 == 0 else SIDES[::-1]:
                rounds[side].append(
                    one_round(servers[side], bodies[side], args.clients, args.seconds)
                )
            print(f"round {number + 1}: " + "   ".join(
                f"{side} {r.rate:5.0f} img/s, {r.own_ms:.2f} / {r.all_ms:.2f} CPU ms/req, "
                f"p50/p99 {r.p50_ms:.1f}/{r.p99_ms:.0f} ms, {r.statuses}"
                for side, r in ((s, rounds[s][-1]) for s in SIDES)
            ), flush=True)  # fmt: skip
    return rounds


def report(rounds: dict[str, list[Round]]) -> None:
    print(f"\n{'median':8s} {'img/s':>7s} {'own CPU ms/req':>15s} {'with model':>11s} "
          f"{'p50 ms':>7s} {'p99 ms':>7s}")  # fmt: skip
    for side in SIDES:
        rs = rounds[side]
        print(f"{side:8s} {statistics.median(r.rate for r in rs):7.0f} "
              f"{statistics.median(r.own_ms for r in rs):15.2f} "
              f"{statistics.median(r.all_ms for r in rs):11.2f} "
              f"{statistics.median(r.p50_ms for r in rs):7.1f} "
              f"{statistics.median(r.p99_ms for r in rs):7.1f}")  # fmt: skip
    pairs = list(zip(rounds["base"], rounds["this"], strict=True))
    own = [t.own_ms / b.own_ms for b, t in pairs]
    rate = [t.rate / b.rate for b, t in pairs]
    print("this/base own CPU per request, by round: " + " ".join(f"{x:.2f}" for x in own)
          + f"  (median {statistics.median(own):.2f}, lower in {sum(x < 1 for x in own)} "
          f"of {len(own)})")  # fmt: skip
    print("this/base images/s, by round:            " + " ".join(f"{x:.2f}" for x in rate)
          + f"  (median {statistics.median(rate):.2f})")  # fmt: skip
    p50 = [t.p50_ms - b.p50_ms for b, t in pairs]  # what --clients 1 is for: latency
    print("this - base p50 (ms), by round:          " + " ".join(f"{x:+.2f}" for x in p50)
          + f"  (median {statistics.median(p50):+.2f}, lower in {sum(x < 0 for x in p50)} "
          f"of {len(p50)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="HEAD", help="git ref to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0, help="per side per round")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--model", default="bench-clip-64")
    parser.add_argument("--env", nargs="*", default=[], help="VENDOR_NAME=VALUE for both sides")
    parser.add_argument("--base-env", nargs="*", default=[], help="VENDOR_NAME=VALUE for base")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", bench.DEFAULT_REDIS))
    args = parser.parse_args()
    dirty = subprocess.run(["git", "-C", str(bench.REPO), "status", "--porcelain"],
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    print(f"{os.cpu_count()} cores; base {args.base}; this checkout "
          f"{'with local changes' if dirty else 'without local changes'}; "
          f"base settings {args.base_env or 'the same'}; "
          f"{args.clients} clients sending one-image requests, metered")  # fmt: skip
    with worktree(args.base) as base:
        report(compare(args, base))


if __name__ == "__main__":
    main()
