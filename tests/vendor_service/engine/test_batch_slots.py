"""BatchSlots: a batch written once is read in place; a slot is reused only once released."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch

from vendor_service.engine.batch_slots import AttachedSlots, BatchSlots


@pytest.fixture
def slots() -> Iterator[BatchSlots]:
    made = BatchSlots(2, (4, 3, 8, 8))
    yield made
    made.close()


def test_a_batch_put_in_a_slot_reads_back_in_place(slots: BatchSlots) -> None:
    batch = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    index = slots.put(batch)
    attached = AttachedSlots(slots.names, slots.shape)
    assert torch.equal(attached.rows(index, 3), batch)


def test_only_uint8_batches_of_the_slot_shape_fit(slots: BatchSlots) -> None:
    assert slots.fits(torch.zeros(4, 3, 8, 8, dtype=torch.uint8))
    assert not slots.fits(torch.zeros(5, 3, 8, 8, dtype=torch.uint8))  # more rows than a slot
    assert not slots.fits(torch.zeros(1, 3, 9, 9, dtype=torch.uint8))
    assert not slots.fits(torch.zeros(1, 3, 8, 8))  # an already normalised float batch


def test_a_writer_waits_for_a_released_slot(slots: BatchSlots) -> None:
    batch = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    first, second = slots.put(batch), slots.put(batch)
    assert {first, second} == {0, 1}
    got: list[int] = []
    writer = threading.Thread(target=lambda: got.append(slots.put(batch)))
    writer.start()
    writer.join(timeout=0.2)
    assert writer.is_alive() and not got  # both slots are busy
    slots.release(second)
    writer.join(timeout=5)
    assert got == [second]


def test_closing_removes_the_shared_memory() -> None:
    made = BatchSlots(1, (1, 3, 4, 4))
    names = made.names
    made.close()
    with pytest.raises(FileNotFoundError):
        AttachedSlots(names, (1, 3, 4, 4))
