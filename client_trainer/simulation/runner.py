"""Run an experiment's client runs: one after another here, or side by side in worker processes.

A tiny student trains fastest on one torch thread (`train.threads`, default 1), so on a CPU
machine the runs of a table go side by side, one per core; on a machine with N GPUs, one per
GPU, each worker pinned to its own (`devices.py`). Every run seeds itself from its own config,
so a result does not depend on how many workers ran it or in which order (a test checks that).

A run whose results line already exists under the experiment's out dir, for the same config
(`report.results.run_identity`), is not run again: a killed experiment started again finishes
only what is missing, and a run a half-finished attempt left behind is redone (what it had
bought is read back from the cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.pipeline import train_run
from client_trainer.report.results import RESULTS_FILE, finished_runs, last_result, run_identity
from client_trainer.simulation.devices import CUDA_VISIBLE_DEVICES, worker_environments
from client_trainer.simulation.workers import run_in_workers
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


def cuda_gpus(base: RunConfig) -> int:
    """GPUs the runs train on: every visible one when the config trains on CUDA, else 0."""
    if pick_device(base.train.device).type != "cuda":
        return 0
    import torch

    return max(1, torch.cuda.device_count())


def auto_workers(base: RunConfig, gpus: int | None = None) -> int:
    """One worker per GPU on CUDA (`gpus`: how many; None = count them); on a CPU one per
    `train.threads` cores, at most MAX_AUTO_WORKERS."""
    gpus = cuda_gpus(base) if gpus is None else gpus
    if gpus > 0:
        return gpus
    threads = base.train.threads or usable_cpus()
    return max(1, min(MAX_AUTO_WORKERS, usable_cpus() // threads))


@dataclass
class Pending:
    """An experiment's runs split into those finished earlier and those still to run."""

    configs: list[RunConfig]  # per spec
    lines: list[dict[str, Any] | None]  # per spec: its results line when finished
    to_run: list[int]  # specs to run, one per distinct run (a repeated run runs once)
    same_as: dict[int, int]  # a spec that repeats an earlier one -> that spec


def pending(base: RunConfig, specs: Sequence[RunSpec]) -> Pending:
    configs = [base.with_overrides(spec.overrides) for spec in specs]
    done = finished_runs([base.output.out_dir]) if base.output.out_dir.is_dir() else {}
    lines: list[dict[str, Any] | None] = []
    first: dict[str, int] = {}
    to_run, same_as = [], {}
    for i, config in enumerate(configs):
        identity = run_identity(config.public_dict())
        lines.append(done.get(identity))
        if lines[-1] is not None:
            continue
        if identity in first:
            same_as[i] = first[identity]
        else:
            first[identity] = i
            to_run.append(i)
    return Pending(configs, lines, to_run, same_as)


def run_specs(
    base: RunConfig,
    specs: Sequence[RunSpec],
    announce: Announce,
    workers: int = 1,
    gpus: int | None = None,
) -> list[dict[str, Any]]:
    """Each spec's results line (report.results), in spec order: a finished run's is read
    back, the others are run; `workers` > 1 runs them in processes, pinned one per GPU when
    the config trains on CUDA (`gpus`: how many; None = count them)."""
    plan = pending(base, specs)
    if earlier := sum(line is not None for line in plan.lines):
        announce(f"{earlier} of {len(specs)} runs finished earlier (results.jsonl under"
                 f" {base.output.out_dir}): not run again")  # fmt: skip
    lines = _run_pending(plan, specs, announce, workers, gpus)
    for i, line in zip(plan.to_run, lines, strict=True):
        plan.lines[i] = line
    for i, earlier in plan.same_as.items():
        plan.lines[i] = plan.lines[earlier]
    return [line for line in plan.lines if line is not None]


def _run_pending(
    plan: Pending, specs: Sequence[RunSpec], announce: Announce, workers: int, gpus: int | None
) -> list[dict[str, Any]]:
    todo = plan.to_run
    workers = min(workers, len(todo))
    if workers <= 1:
        found = []
        for i in todo:
            announce(specs[i].label)
            found.append(run_one(plan.configs[i]))
        return found
    gpus = cuda_gpus(plan.configs[todo[0]]) if gpus is None else gpus
    environments = worker_environments(workers, gpus, os.environ.get(CUDA_VISIBLE_DEVICES))
    on = f" on {gpus} GPUs" if gpus else ""
    announce(f"{len(todo)} runs on {workers} worker processes{on}")
    quiet = [plan.configs[i].with_overrides({"output.progress": False}) for i in todo]

    def finished(index: int, line: dict[str, Any]) -> None:
        announce(f"{specs[todo[index]].label}: {_outcome(line)}")

    return run_in_workers(run_one, quiet, environments, finished)


def run_one(config: RunConfig) -> dict[str, Any]:
    """Train one run; its results line, with the run directory."""
    directory = train_run(config).directory
    line = last_result(directory / RESULTS_FILE)
    assert line is not None  # train_run appends it last
    return line | {"run_dir": str(directory)}


def _outcome(line: dict[str, Any]) -> str:
    return f"OOD {100 * line['ood_acc']:.1f}, {line['wall_s']:.0f} s"
