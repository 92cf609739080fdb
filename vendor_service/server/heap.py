"""Python's cyclic garbage collector, settled for serving once the model is warm.

By then the process holds some 470,000 objects that live as long as it does: torch, open_clip,
every imported module, the model. A full collection walks all of them, and with Python's
default thresholds one-image load sets one off every few seconds, each a stop of the event
loop long enough to show in every request's p99. So, after warm-up: collect once, freeze what
survives (no later collection walks it again), and collect the youngest generation every
`threshold` net allocations instead of 700. Cyclic garbage made while serving is still
collected. `benchmarks/bench_against.py --base-env VENDOR_GC_THRESHOLD=0` compares the two.
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
