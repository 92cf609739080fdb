"""The model process on its own: raw `encode_images` in this process against the same model
behind `ProcessModel`, image batches through the pipe or through shared-memory slots, one or
two calls in flight (not a test).

What the served (a) figure cannot separate: how much of the forward's rate the hand-off to a
model process costs by itself, with no HTTP server competing for the cores. Each round
measures every variant for a few seconds, one after the other, so drift hits them alike; it
prints each variant's images/s, its ratio to the raw rate of the same round, and the CPU time
the child spent per image (user + system, from /proc; Linux only).

    PYTHONPATH=. python benchmarks/bench_model_process.py [--model bench-clip-64] \
        [--batch 64] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as bench

from vendor_service.engine.placement import open_clip_factory
from vendor_service.engine.process_model import ProcessModel
from vendor_service.settings import Settings


def through(
    model: ProcessModel, batch: torch.Tensor, in_flight: int, seconds: float
) -> tuple[float, float]:
    """images/s and the child's CPU ms per image, `in_flight` callers at once."""
    assert model.pid is not None
    cpu_before, images = bench.process_cpu_seconds(model.pid), 0
    with ThreadPoolExecutor(in_flight) as callers:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            list(callers.map(lambda _: model.encode_images(batch), range(4 * in_flight)))
            images += 4 * in_flight * batch.shape[0]
        elapsed = time.perf_counter() - started
    cpu = bench.process_cpu_seconds(model.pid) - cpu_before
    return images / elapsed, 1000 * cpu / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="bench-clip-64")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = Settings(admin_token=bench.ADMIN, model=args.model, pretrained="random",
                        torch_threads=1, max_batch_size=args.batch)  # fmt: skip
    models = {
        "pipe": ProcessModel(settings, open_clip_factory, shared_memory=False),
        "slots": ProcessModel(settings, open_clip_factory),
    }
    size = models["slots"].info.image_size
    batch = torch.randint(0, 256, (args.batch, 3, size, size), dtype=torch.uint8)
    ratios: dict[str, list[float]] = {}
    try:
        for round_ in range(1, args.rounds + 1):
            raw = bench.raw_throughput(args.model, 1, args.seconds, batch=args.batch)
            print(f"round {round_}: raw in this process {raw:,.0f} images/s")
            for name, model in models.items():
                for in_flight in (1, 2):
                    rate, cpu = through(model, batch, in_flight, args.seconds)
                    label = f"{name}, {in_flight} in flight"
                    ratios.setdefault(label, []).append(rate / raw)
                    print(f"  {label:22s} {rate:7,.0f} images/s  x raw {rate / raw:4.2f}  "
                          f"child CPU {cpu:.3f} ms/image")  # fmt: skip
    finally:
        for model in models.values():
            model.close()
    print("\nmedian x raw over the rounds:")
    for label, values in ratios.items():
        print(f"  {label:22s} {statistics.median(values):4.2f}")


if __name__ == "__main__":
    main()
