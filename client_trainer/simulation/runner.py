"""Run an experiment's client runs: one after another here, or side by side in worker processes.

A tiny student trains fastest on one torch thread (`train.threads`, default 1), so on a
machine with several cores the runs of a table are best run side by side, one per core.
Every run seeds itself from its own config, so a result does not depend on how many workers
ran it or in which order (a test checks that). Results come back in the order of the specs.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.pipeline import train_run
from client_trainer.train.device import pick_device

Announce = Callable[[str], None]


@dataclass(frozen=True)
class RunSpec:
    label: str  # what the run is, for progress lines ("erm | held-out sketch | seed 0")
    overrides: dict[str, Any]  # dotted-path overrides of the experiment's base config


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Each worker holds torch, the student and the task's images (several hundred MB): a cap keeps
# a many-core machine's memory in bounds, and a table has only 20 runs per seed to share out.
MAX_AUTO_WORKERS = 8


def auto_workers(base: RunConfig) -> int:
    """One worker per `train.threads` cores on a CPU, at most MAX_AUTO_WORKERS; one on CUDA
    (runs share the device)."""
    if pick_device(base.train.device).type == "cuda":
        return 1
    threads = base.train.threads or usable_cpus()
    return max(1, min(MAX_AUTO_WORKERS, usable_cpus() // threads))


def run_specs(
    base: RunConfig, specs: Sequence[RunSpec], announce: Announce, workers: int = 1
) -> list[dict[str, Any]]:
    """Each spec's run metrics, in spec order; `workers` > 1 runs them in processes."""
    workers = min(workers, len(specs))
    if workers <= 1:
        return [_announced(base, spec, announce) for spec in specs]
    announce(f"{len(specs)} runs on {workers} worker processes")
    quiet = base.with_overrides({"output.progress": False})  # bars of parallel runs interleave
    context = multiprocessing.get_context("spawn")  # no torch state forked into the workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future[dict[str, Any]], int] = {
            pool.submit(_run, quiet, spec.overrides): i for i, spec in enumerate(specs)
        }
        results: list[dict[str, Any] | None] = [None] * len(specs)
        try:
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                announce(f"{specs[index].label}: {_outcome(results[index])}")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    done = [r for r in results if r is not None]
    assert len(done) == len(specs)  # as_completed yields every future or raises
    return done


def _announced(base: RunConfig, spec: RunSpec, announce: Announce) -> dict[str, Any]:
    announce(spec.label)
    return _run(base, spec.overrides)


def _run(base: RunConfig, overrides: dict[str, Any]) -> dict[str, Any]:
    return train_run(base.with_overrides(overrides)).metrics


def _outcome(metrics: dict[str, Any] | None) -> str:
    if metrics is None:
        return "no result"
    return f"OOD {100 * metrics['ood_acc']:.1f}, {metrics['wall_s']:.0f} s"
