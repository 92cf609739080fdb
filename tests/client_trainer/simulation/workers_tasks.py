"""Module-level tasks for the worker-pool tests (a spawned worker imports them by name)."""

from __future__ import annotations

import os
import time


def where(delay: float) -> tuple[int, str | None]:
    """(worker pid, its CUDA_VISIBLE_DEVICES), after `delay` seconds (so both workers work)."""
    time.sleep(delay)
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")


def fail(message: str) -> None:
    raise ValueError(message)


def die(code: int) -> None:
    os._exit(code)
