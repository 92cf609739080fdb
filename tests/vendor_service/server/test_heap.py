"""The garbage collector settled after warm-up: frozen start-up heap, rarer young collections."""

from __future__ import annotations

import gc
import weakref

from tests.vendor_service.conftest import AppMaker
from vendor_service.server.heap import settled_heap


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_settling_freezes_the_heap_and_restores_it_after() -> None:
    before = gc.get_threshold()
    with settled_heap(12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
        # What a full collection still walks is what was made since, not the start-up heap.
        assert gc.get_freeze_count() > 10 * len(gc.get_objects())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_start_up_garbage_is_collected_not_frozen_for_ever() -> None:
    gc.disable()  # no automatic collection between here and the settling
    try:
        node = _Node()
        alive = weakref.ref(node)
        del node
        with settled_heap(12_345):
            assert alive() is None
    finally:
        gc.enable()


def test_garbage_made_while_settled_is_still_collected() -> None:
    """No explicit collection here: the collector's own young collections must find it."""
    assert gc.isenabled()
    with settled_heap(1_000):
        node = _Node()
        alive = weakref.ref(node)
        del node
        # Net allocations of tracked objects past the threshold start a young collection.
        kept: list[list[int]] = [[] for _ in range(5_000)]
        assert alive() is None, "cyclic garbage made while serving was never collected"
        del kept


def test_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    with settled_heap(0):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0


async def test_the_app_settles_its_heap_while_it_serves(make_app: AppMaker) -> None:
    before = gc.get_threshold()
    async with make_app(gc_threshold=4321) as vendor:
        assert gc.get_threshold()[0] == 4321
        assert gc.get_freeze_count() > 0
        assert (await vendor.client.get("/readyz")).status_code == 200
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
