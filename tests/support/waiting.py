"""Waiting in tests on the thing itself (a condition, a process's end), never on a guessed delay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Return as soon as `condition()` holds, checked at every turn of the event loop (and at
    least every millisecond); AssertionError after `timeout` seconds."""
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, f"still waiting after {timeout} s: {what or condition}"
        await asyncio.sleep(0.001)


def until_dead(pid: int, timeout: float = 10.0) -> None:
    """Return once process `pid` has exited with all its threads (gone, or a zombie its parent
    can reap); AssertionError after `timeout` seconds. Linux: it reads /proc."""
    give_up = time.monotonic() + timeout
    while _running(pid):
        assert time.monotonic() < give_up, f"process {pid} still runs after {timeout} s"
        time.sleep(0.001)


def _running(pid: int) -> bool:
    """A killed process's main thread turns zombie at once; its other threads (torch's) take
    longer, and until they are gone the parent can neither reap it nor read EOF on its pipes."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") or threads > 1
