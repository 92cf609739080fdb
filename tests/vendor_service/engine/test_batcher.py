"""The dynamic batcher: merging, splitting, back-pressure, failure isolation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.support.waiting import until
from vendor_service.engine.batcher import Batcher, BatchPolicy, ModelHealth
from vendor_service.errors import Unavailable


class RecordingForward:
    """Embeds a float x as [x, 2x]; records batch sizes; can fail or wait on a gate."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.fail_when = lambda items: False
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # a forward has started (and may wait on the gate)

    def __call__(self, items: list[float]) -> torch.Tensor:
        self.entered.set()
        self.gate.wait(timeout=10)
        self.sizes.append(len(items))
        if self.fail_when(items):
            raise RuntimeError("boom")
        values = torch.tensor(items, dtype=torch.float32)
        return torch.stack([values, 2 * values], dim=1)


@pytest.fixture
async def executor() -> AsyncIterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


def make(
    forward: Callable[[list[float]], torch.Tensor], executor: ThreadPoolExecutor, **kw: float
) -> Batcher[float]:
    options = {"max_batch_size": 8, "max_wait_ms": 20.0, "max_queue_items": 64,
               "max_in_flight": 1, **kw}  # fmt: skip
    policy = BatchPolicy(
        max_batch_size=int(options["max_batch_size"]),
        max_wait_ms=options["max_wait_ms"],
        max_queue_items=int(options["max_queue_items"]),
        max_in_flight=int(options["max_in_flight"]),
    )
    batcher: Batcher[float] = Batcher(forward, executor, policy, health=ModelHealth())
    batcher.start()
    return batcher


async def test_concurrent_requests_share_a_forward(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor)
    results = await asyncio.gather(*(batcher.submit([float(i), i + 0.5]) for i in range(4)))
    await batcher.stop()
    assert forward.sizes == [8]
    for i, out in enumerate(results):
        assert out.tolist() == [[i, 2 * i], [i + 0.5, 2 * i + 1]]


async def test_large_request_is_split_across_batches(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor, max_batch_size=4, max_wait_ms=1.0)
    out = await batcher.submit([float(i) for i in range(10)])
    await batcher.stop()
    assert sorted(forward.sizes, reverse=True) == [4, 4, 2]
    assert out[:, 0].tolist() == [float(i) for i in range(10)]


async def test_full_queue_is_overloaded(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    forward.gate.clear()  # the first forward blocks, so the queue fills up
    batcher = make(forward, executor, max_batch_size=2, max_wait_ms=0.0, max_queue_items=4)
    first = batcher.submit([1.0, 2.0])
    await until(forward.entered.is_set)  # taken into the (blocked) forward
    queued = batcher.submit([3.0, 4.0, 5.0, 6.0])
    with pytest.raises(Unavailable) as caught:
        await batcher.submit([7.0])
    assert caught.value.code == "overloaded" and caught.value.retry_after
    forward.gate.set()
    assert len(await first) == 2 and len(await queued) == 4
    await batcher.stop()


async def test_failed_forward_fails_only_its_batch(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    forward.fail_when = lambda items: 666.0 in items
    batcher = make(forward, executor, max_wait_ms=0.0)
    with pytest.raises(Unavailable) as caught:
        await batcher.submit([666.0])
    assert caught.value.code == "inference_failed"
    assert not batcher.health.ok
    assert (await batcher.submit([1.0]))[0].tolist() == [1.0, 2.0]
    assert batcher.health.ok
    await batcher.stop()


async def test_cancelled_request_is_dropped_from_the_queue(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    forward.gate.clear()
    batcher = make(forward, executor, max_batch_size=2, max_wait_ms=0.0)
    first = batcher.submit([1.0, 2.0])
    await until(forward.entered.is_set)  # taken into the (blocked) forward
    abandoned = batcher.submit([3.0, 4.0])
    abandoned.cancel()
    forward.gate.set()
    await first
    assert (await batcher.submit([5.0]))[0, 0].item() == 5.0
    assert forward.sizes == [2, 1]
    assert batcher.queued_items == 0
    await batcher.stop()


async def test_hung_forward_times_out_and_marks_unhealthy(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    forward.gate.clear()
    batcher = make(forward, executor, max_wait_ms=0.0)
    batcher.timeout = 0.2
    with pytest.raises(Unavailable) as caught:
        await batcher.submit([1.0])
    assert caught.value.code == "inference_failed"
    assert not batcher.health.ok
    forward.gate.set()
    assert (await batcher.submit([2.0]))[0, 0].item() == 2.0
    assert batcher.health.ok
    await batcher.stop()


class FirstWaitsForSecond:
    """The first forward finishes only after the second has: answers come back out of order,
    and only if both run at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.second_done = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, items: list[float]) -> torch.Tensor:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            assert self.second_done.wait(timeout=5), "the second batch was never dispatched"
        else:
            self.second_done.set()
        values = torch.tensor(items, dtype=torch.float32)
        return torch.stack([values, 2 * values], dim=1)


async def test_two_batches_in_flight_put_a_split_request_together_by_position() -> None:
    pool = ThreadPoolExecutor(max_workers=2)
    forward = FirstWaitsForSecond()
    batcher = make(forward, pool, max_batch_size=4, max_wait_ms=0.0, max_in_flight=2)
    out = await batcher.submit([float(i) for i in range(8)])
    await batcher.stop()
    pool.shutdown(wait=True)
    assert forward.calls == 2
    assert out[:, 0].tolist() == [float(i) for i in range(8)]


async def test_one_batch_in_flight_waits_for_the_answer_before_the_next() -> None:
    pool = ThreadPoolExecutor(max_workers=2)
    forward = RecordingForward()
    forward.gate.clear()
    batcher = make(forward, pool, max_batch_size=2, max_wait_ms=0.0, max_in_flight=1)
    first = batcher.submit([1.0, 2.0])
    await until(forward.entered.is_set)  # taken into the (blocked) forward
    second = batcher.submit([3.0, 4.0])
    await asyncio.sleep(0.05)  # time for a free slot, were there one, to dispatch it
    assert batcher.queued_items == 2  # not dispatched while the first is unanswered
    forward.gate.set()
    assert len(await first) == 2 and len(await second) == 2
    await batcher.stop()
    pool.shutdown(wait=True)


async def test_stopping_answers_the_callers_of_a_batch_in_flight(
    executor: ThreadPoolExecutor,
) -> None:
    forward = RecordingForward()
    forward.gate.clear()  # the forward never returns on its own
    batcher = make(forward, executor, max_wait_ms=0.0)
    batcher.timeout = 30.0
    waiting = batcher.submit([1.0])
    await until(forward.entered.is_set)  # taken into the blocked forward
    await batcher.stop()
    with pytest.raises(Unavailable) as caught:
        await asyncio.wait_for(waiting, 2.0)  # now, not after the 30 s timeout
    assert caught.value.code == "not_ready"
    forward.gate.set()


# --- admission: items that wait for their reservation ---------------------------------------
def submit_unadmitted(
    batcher: Batcher[float], items: list[float]
) -> tuple[asyncio.Future[None], asyncio.Future[torch.Tensor]]:
    """`items` submitted while their admission is pending: (the admission, their embeddings)."""
    admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    return admitted, batcher.submit(items, admitted)


async def test_unadmitted_items_stay_out_of_every_batch(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor, max_wait_ms=0.0)
    admitted, waiting = submit_unadmitted(batcher, [1.0, 2.0])
    await asyncio.sleep(0.05)  # time for the batcher, were they eligible, to take them
    assert forward.sizes == [] and batcher.queued_items == 2
    assert (await batcher.submit([3.0]))[0, 0].item() == 3.0  # later, but not held: goes first
    assert forward.sizes == [1]
    admitted.set_result(None)
    assert (await waiting)[:, 0].tolist() == [1.0, 2.0]
    assert forward.sizes == [1, 2] and batcher.queued_items == 0
    await batcher.stop()


async def test_the_batching_window_counts_from_submit_not_from_admission(
    executor: ThreadPoolExecutor,
) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor, max_wait_ms=1000.0)
    admitted, waiting = submit_unadmitted(batcher, [1.0])
    await asyncio.sleep(1.05)  # the window has passed while the reservation was in flight
    admitted.set_result(None)
    out = await asyncio.wait_for(waiting, 0.8)  # a window restarted now would take 1 s
    assert out[0, 0].item() == 1.0
    await batcher.stop()


@pytest.mark.parametrize("refused", ["error", "cancelled"])
async def test_a_refused_admission_drops_the_items_and_raises(
    executor: ThreadPoolExecutor, refused: str
) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor, max_wait_ms=0.0)
    admitted, waiting = submit_unadmitted(batcher, [1.0])
    if refused == "error":
        admitted.set_exception(LookupError("not paid for"))
        with pytest.raises(LookupError, match="not paid for"):
            await waiting
    else:
        admitted.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert batcher.queued_items == 0
    assert (await batcher.submit([2.0]))[0, 0].item() == 2.0
    assert forward.sizes == [1]  # only the admitted request's forward ran
    await batcher.stop()


async def test_a_caller_who_leaves_before_admission_is_forgotten(
    executor: ThreadPoolExecutor,
) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor, max_wait_ms=0.0)
    admitted, waiting = submit_unadmitted(batcher, [1.0, 2.0])
    waiting.cancel()
    await asyncio.sleep(0)  # the cancellation's callbacks run on the loop's next turn
    assert batcher.queued_items == 0
    admitted.set_result(None)  # admitted after all: nothing is left to run
    await asyncio.sleep(0.05)  # time for a forward, were one left to run, to start
    assert forward.sizes == [] and batcher.queued_items == 0
    await batcher.stop()


async def test_the_inference_timeout_starts_on_admission(executor: ThreadPoolExecutor) -> None:
    forward = RecordingForward()
    batcher = make(forward, executor, max_wait_ms=0.0)
    batcher.timeout = 0.2
    admitted, waiting = submit_unadmitted(batcher, [1.0])
    await asyncio.sleep(0.3)  # a slow reservation is not a hung model
    assert not waiting.done() and batcher.health.ok
    admitted.set_result(None)
    assert (await waiting)[0, 0].item() == 1.0
    forward.gate.clear()
    held: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    held.set_result(None)
    with pytest.raises(Unavailable) as caught:  # ...but a hung forward after admission is
        await batcher.submit([2.0], held)
    assert caught.value.code == "inference_failed" and not batcher.health.ok
    forward.gate.set()
    await batcher.stop()


async def test_stopping_answers_callers_still_awaiting_admission(
    executor: ThreadPoolExecutor,
) -> None:
    batcher = make(RecordingForward(), executor)
    _, waiting = submit_unadmitted(batcher, [1.0])
    await batcher.stop()
    with pytest.raises(Unavailable) as caught:
        await asyncio.wait_for(waiting, 2.0)
    assert caught.value.code == "not_ready" and batcher.queued_items == 0
