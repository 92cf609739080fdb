"""Shared-memory slots that carry image batches to the model process without the pipe.

Through a pipe, a batch of 64 images of 64x64 (786 KB) crosses in 64 KB pieces, each one
waiting for the server's sending thread to be scheduled again; the child then unpickles a
fresh copy. In a slot, the server writes the batch once, the pipe carries only (slot, rows),
and the child reads the rows in place. A slot is busy from `put` until the child's reply
for it arrives (`release`), so the child never reads a slot that is being rewritten.

Slots live in shared memory (`/dev/shm` on Linux; containers get 64 MB there unless told
more). Their pages are allocated up front, so a full `/dev/shm` is an error here, at start,
rather than a SIGBUS at the first write; the model process then carries every batch over the
pipe.
"""

from __future__ import annotations

import os
import queue
from multiprocessing.shared_memory import SharedMemory

import numpy as np
import torch


class BatchSlots:
    """`count` slots of `shape` (max rows, 3, S, S) uint8 each; owned by the server's process."""

    def __init__(self, count: int, shape: tuple[int, int, int, int]) -> None:
        self.shape = shape
        size = int(np.prod(shape))
        self._memory: list[SharedMemory] = []
        try:
            for _ in range(count):
                self._memory.append(SharedMemory(create=True, size=size))
                _allocate(self._memory[-1], size)
        except BaseException:
            self.close()
            raise
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(count):
            self._free.put(index)

    @property
    def names(self) -> list[str]:
        return [memory.name for memory in self._memory]

    def fits(self, batch: torch.Tensor) -> bool:
        return (
            batch.dtype == torch.uint8
            and tuple(batch.shape[1:]) == self.shape[1:]
            and batch.shape[0] <= self.shape[0]
        )

    def put(self, batch: torch.Tensor) -> int:
        """Copy `batch` into a free slot (waiting for one) and return its index."""
        index = self._free.get()
        view = np.ndarray(self.shape, dtype=np.uint8, buffer=self._memory[index].buf)
        torch.from_numpy(view)[: batch.shape[0]].copy_(batch)
        return index

    def release(self, index: int) -> None:
        self._free.put(index)

    def close(self) -> None:
        for memory in self._memory:
            memory.close()
            memory.unlink()
        self._memory.clear()


class AttachedSlots:
    """The model process's view of the server's slots."""

    def __init__(self, names: list[str], shape: tuple[int, int, int, int]) -> None:
        self.shape = shape
        # A spawned child shares the server's resource tracker, so attaching registers nothing
        # new; the server unlinks the slots (the tracker does, if the server is killed).
        self._memory = [SharedMemory(name=name) for name in names]

    def rows(self, index: int, count: int) -> torch.Tensor:
        """The first `count` images of slot `index`, in place (valid until the reply)."""
        view = np.ndarray(self.shape, dtype=np.uint8, buffer=self._memory[index].buf)
        return torch.from_numpy(view[:count])


def _allocate(memory: SharedMemory, size: int) -> None:
    """Reserve the slot's pages now: ENOSPC (an OSError) if shared memory is too small."""
    fd = getattr(memory, "_fd", -1)  # POSIX only; the attribute is CPython's, not public
    if fd >= 0 and hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
