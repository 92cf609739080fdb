"""Dynamic batching: inputs of many concurrent requests share one forward pass.

One `Batcher` per modality. Requests `submit` their inputs and await the future it returns
(cancelling it withdraws them); a worker task gathers queued inputs until `max_batch_size`
are waiting or `max_wait_ms` passed since the oldest arrived, runs the forward in the
executor (never on the event loop), and hands each request its own rows. A request larger
than a batch is split across batches. Up to `max_in_flight` batches run at once: 1 for a
forward in a thread of this process; 2 in front of a model process, so the next batch already
waits in its pipe while the current one runs (results may then come back out of order; a
split request is put together by position). The queue is bounded in items: beyond it
`submit` raises 503 overloaded at once. When a forward raises, only the requests in that
batch fail (503 inference_failed) and `health.ok` turns False until a later forward succeeds;
a request whose forward takes longer than `timeout_seconds` fails the same way (it stays well
inside the reservation lease, so it is refunded, never expired).

A request may enter the queue before it is paid for: `submit(items, admitted=future)` holds
its items out of every batch until `admitted` has a result. The sale reserves the money while
the request already waits, so the reservation's round trip overlaps the batching window instead
of coming before it, and still no forward ever takes an item that is not reserved. If the
admission fails or is cancelled, the items leave the queue and their future fails the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import torch

from shared.errors import ErrorCode
from vendor_service.errors import Unavailable

log = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass
class ModelHealth:
    """False after a failed forward, True again after a successful one."""

    ok: bool = True


@dataclass(frozen=True)
class BatchPolicy:
    """How a batcher forms batches and how long a request may wait in it."""

    max_batch_size: int  # most items in one forward pass
    max_wait_ms: float  # longest wait for a batch to fill once its first item arrived
    max_queue_items: int  # items waiting (and awaiting admission) beyond which submit refuses
    timeout_seconds: float = 20.0  # from admission to embeddings; later fails (503)
    max_in_flight: int = 1  # batches dispatched at once (2 in front of a model process)


@dataclass
class BatchObserver:
    """Hooks for metrics (no-ops by default)."""

    on_batch: Callable[[int, float], None] = lambda size, seconds: None
    on_queue_depth: Callable[[int], None] = lambda depth: None


@dataclass(eq=False)  # compared and hashed by identity
class _Job(Generic[Item]):
    items: Sequence[Item]
    future: asyncio.Future[torch.Tensor]
    enqueued_at: float
    taken: int = 0  # items already handed to a batch
    parts: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (first row, rows)
    done_rows: int = 0
    timer: asyncio.TimerHandle | None = None  # the inference timeout, from admission on


# A batch's share of one job: (job, index of its first item in the job, number of items).
_Slice = tuple[_Job[Item], int, int]


class Batcher(Generic[Item]):
    def __init__(
        self,
        forward: Callable[[list[Item]], torch.Tensor],
        executor: Executor,
        policy: BatchPolicy,
        *,
        health: ModelHealth | None = None,
        observer: BatchObserver | None = None,
        collate: Callable[[list[Item]], Any] | None = None,
    ) -> None:
        """`forward` runs in `executor` on `collate(items)` (the list itself by default);
        `health` may be shared with the other modality's batcher (one model behind both)."""
        self._forward = forward
        self._collate = collate or (lambda items: items)
        self._executor = executor
        self.max_batch_size = policy.max_batch_size
        self.max_wait = policy.max_wait_ms / 1000.0
        self.max_queue_items = policy.max_queue_items
        self.health = health or ModelHealth()
        self.timeout = policy.timeout_seconds
        self.observer = observer or BatchObserver()
        self._jobs: deque[_Job[Item]] = deque()
        self._queued_items = 0  # in `_jobs`, not yet taken into a batch
        self._awaiting: set[_Job[Item]] = set()  # submitted, waiting for their admission
        self._awaiting_items = 0
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.max_in_flight = policy.max_in_flight
        # Batches dispatched, not yet answered.
        self._slots = asyncio.Semaphore(policy.max_in_flight)
        self._running: set[asyncio.Task[None]] = set()

    @property
    def queued_items(self) -> int:
        return self._queued_items + self._awaiting_items

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        for task in [self._worker, *self._running]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for job in [*self._jobs, *self._awaiting]:
            self._stop_awaiting(job)
            if not job.future.done():
                job.future.set_exception(Unavailable(ErrorCode.NOT_READY, "shutting down"))
        self._jobs.clear()

    def submit(
        self, items: Sequence[Item], admitted: asyncio.Future[Any] | None = None
    ) -> asyncio.Future[torch.Tensor]:
        """Queue `items` now; the future gets their embeddings, in order, or Unavailable
        (inference_failed). A full queue raises Unavailable (overloaded) here, at once.
        Cancelling the future withdraws whatever of `items` no batch has taken yet.

        With `admitted`, the items wait outside every batch until it has a result (a failed or
        cancelled admission fails the future alike); the timeout starts on admission."""
        if self.queued_items + len(items) > self.max_queue_items:
            raise Unavailable(ErrorCode.OVERLOADED, "the inference queue is full; retry shortly")
        job = _Job(items, asyncio.get_running_loop().create_future(), time.monotonic())
        job.future.add_done_callback(lambda _: self._settle(job))
        if admitted is None:
            self._start(job)
        else:
            self._awaiting.add(job)
            self._awaiting_items += len(items)
            admitted.add_done_callback(lambda outcome: self._admit(job, outcome))
        return job.future

    def _start(self, job: _Job[Item]) -> None:
        """Into the queue, with the inference timeout running."""
        loop = asyncio.get_running_loop()
        job.timer = loop.call_later(self.timeout, self._time_out, job)
        self._enqueue(job)

    def _time_out(self, job: _Job[Item]) -> None:
        if job.future.done():
            return
        self.health.ok = False  # a forward that hangs is a model that stopped working
        job.future.set_exception(
            Unavailable(ErrorCode.INFERENCE_FAILED, "inference timed out; you were not charged")
        )

    def _settle(self, job: _Job[Item]) -> None:
        """`job` has its answer (or its caller left): no timeout, no admission to wait for."""
        if job.timer is not None:
            job.timer.cancel()
        self._stop_awaiting(job)

    def _enqueue(self, job: _Job[Item]) -> None:
        self._jobs.append(job)
        self._queued_items += len(job.items)
        self.observer.on_queue_depth(self.queued_items)
        self._arrived.set()

    def _stop_awaiting(self, job: _Job[Item]) -> bool:
        """True if `job` was waiting for its admission (from here on it is not)."""
        if job not in self._awaiting:
            return False
        self._awaiting.remove(job)
        self._awaiting_items -= len(job.items)
        return True

    def _admit(self, job: _Job[Item], outcome: asyncio.Future[Any]) -> None:
        if not self._stop_awaiting(job) or job.future.done():
            return  # its caller already left
        if outcome.cancelled():
            job.future.cancel()
        elif (error := outcome.exception()) is not None:
            job.future.set_exception(error)
        else:
            self._start(job)  # its batching window still counts from `submit`

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                await self._wait_for_batch()
                batch, slices = self._take_batch()
            except BaseException:
                self._slots.release()
                raise
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._dispatch(batch, slices), name="batch")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _dispatch(self, batch: list[Item], slices: list[_Slice[Item]]) -> None:
        try:
            await self._run_batch(batch, slices)
        except asyncio.CancelledError:  # stopping: its callers get an answer, not a timeout
            self._fail(slices, Unavailable(ErrorCode.NOT_READY, "shutting down"))
            raise
        except Exception:  # never let a failure escape: later requests would hang
            log.exception("batcher bookkeeping failed")
            self._fail(slices)
        finally:
            self._slots.release()

    async def _wait_for_batch(self) -> None:
        while not self._jobs:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = self._jobs[0].enqueued_at + self.max_wait
        while self._queued_items < self.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def _take_batch(self) -> tuple[list[Item], list[_Slice[Item]]]:
        """Pop up to max_batch_size items (splitting a big job); slices: (job, first, rows)."""
        batch: list[Item] = []
        slices: list[_Slice[Item]] = []
        while self._jobs and len(batch) < self.max_batch_size:
            job = self._jobs[0]
            if job.future.done():  # the caller went away: drop what it still had queued
                self._queued_items -= len(job.items) - job.taken
                self._jobs.popleft()
                continue
            rows = min(len(job.items) - job.taken, self.max_batch_size - len(batch))
            batch.extend(job.items[job.taken : job.taken + rows])
            slices.append((job, job.taken, rows))
            job.taken += rows
            if job.taken == len(job.items):
                self._jobs.popleft()
        self._queued_items -= len(batch)
        self.observer.on_queue_depth(self.queued_items)
        return batch, slices

    async def _run_batch(self, batch: list[Item], slices: list[_Slice[Item]]) -> None:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            output = await loop.run_in_executor(
                self._executor, lambda: self._forward(self._collate(batch))
            )
        except Exception:
            log.exception("forward pass of %d item(s) failed", len(batch))
            self.health.ok = False
            self._fail(slices)
            return
        self.health.ok = True
        self.observer.on_batch(len(batch), time.perf_counter() - started)
        self._deliver(output, slices)

    def _deliver(self, output: torch.Tensor, slices: list[_Slice[Item]]) -> None:
        row = 0
        for job, first, rows in slices:
            job.parts.append((first, output[row : row + rows]))
            job.done_rows += rows
            row += rows
            if job.done_rows == len(job.items) and not job.future.done():
                parts = [part for _, part in sorted(job.parts, key=lambda part: part[0])]
                job.future.set_result(parts[0] if len(parts) == 1 else torch.cat(parts))

    def _fail(self, slices: list[_Slice[Item]], error: Unavailable | None = None) -> None:
        for job, _, _ in slices:
            if job.future.done():
                continue
            job.future.set_exception(
                error
                or Unavailable(ErrorCode.INFERENCE_FAILED, "inference failed; you were not charged")
            )
            if job.taken < len(job.items) and job in self._jobs:  # drop its queued remainder
                self._queued_items -= len(job.items) - job.taken
                self._jobs.remove(job)
