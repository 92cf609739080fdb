"""What every serving process sets before its app starts: torch threads, the GIL switch
interval, logging."""

from __future__ import annotations

import logging
import os
import sys

from vendor_service.settings import Settings


def default_torch_threads(workers: int = 1) -> int:
    """On CPU, the cores shared out among the workers; with one worker, leave one core to the
    event loop and decoding (OpenMP threads that compete with them for cores spin at barriers
    and slow the forward down several times)."""
    cores = os.cpu_count() or 2
    return max(1, (cores - workers) // workers)


def configure_process(settings: Settings) -> None:
    """What every serving process sets before its app starts: the GIL switch interval (the
    event loop, the inference thread and the decode threads share the GIL; Python's 5 ms
    default lets a busy thread stall the loop) and logging."""
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
