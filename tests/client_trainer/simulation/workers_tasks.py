"""Module-level tasks for the worker-pool tests (a spawned worker imports them by name)."""

from __future__ import annotations

import os
import time

# Read while a worker unpickles its task, before the worker's own code runs: what a library
# that touches CUDA at import time would see.
AT_IMPORT = os.environ.get("CUDA_VISIBLE_DEVICES")


def where(delay: float) -> tuple[int, str | None, str | None]:
    """(worker pid, its CUDA_VISIBLE_DEVICES now and when it imported this module), after
    `delay` seconds (so both workers take jobs)."""
    time.sleep(delay)
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES"), AT_IMPORT


def fail(message: str) -> None:
    raise ValueError(message)


def die(code: int) -> None:
    os._exit(code)
