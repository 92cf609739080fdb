"""Which GPU each worker process of an experiment trains on.

On a machine with N GPUs an experiment runs one worker per GPU, each pinned to its own
device through `CUDA_VISIBLE_DEVICES` (set in the worker before it touches CUDA): inside the
worker the run's `cuda` is that one GPU, so every library that defaults to `cuda:0` lands on
it too. The parent's own `CUDA_VISIBLE_DEVICES`, when set, says which GPUs there are to share.
Plain functions of a device count, so the assignment is tested without a GPU.
"""

from __future__ import annotations

CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"


def visible_gpus(count: int, visible: str | None) -> list[str]:
    """The names of the `count` GPUs this process sees: the entries of its
    CUDA_VISIBLE_DEVICES (indices or UUIDs), else "0" .. "count-1"."""
    if visible is not None and visible.strip():
        entries = [e.strip() for e in visible.split(",") if e.strip()]
        return entries[:count]
    return [str(i) for i in range(count)]


def worker_environments(workers: int, gpus: int, visible: str | None) -> list[dict[str, str]]:
    """Per worker, the environment it sets before starting: with GPUs, worker i sees GPU
    i mod N only (N workers on N GPUs: one run per GPU); without, nothing changes."""
    if gpus <= 0:
        return [{} for _ in range(workers)]
    names = visible_gpus(gpus, visible)
    return [{CUDA_VISIBLE_DEVICES: names[i % len(names)]} for i in range(workers)]
