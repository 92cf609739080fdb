"""Python's cyclic garbage collector, settled for serving once the model is warm.

By then the process holds some 470,000 objects that live as long as it does: torch, open_clip,
every imported module, the model. A full collection walks all of them, and under one-image
load CPython ran one every few seconds; each stopped the event loop for about 0.45 s on a
2-core machine (BENCHMARKS.md). So, after warm-up: collect once, freeze what survives (no
later collection walks it again), and collect the youngest generation every `threshold`
net allocations instead of 700. Cyclic garbage made while serving is still collected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def settled_heap(threshold: int) -> Iterator[None]:
    """Collect, freeze and raise the youngest generation's threshold while inside; restored
    on exit (an app started inside a test process leaves the collector as it found it).
    `threshold` 0 leaves the collector alone."""
    if threshold == 0:
        yield
        return
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
