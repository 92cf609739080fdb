"""ProcessModel: the same embeddings as the model in-process (image batches through shared
memory or the pipe), several calls in flight, and a dead child that costs only its calls."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tests.support.live_vendor import TINY_MODEL
from tests.support.waiting import until, until_dead
from vendor_service.engine.open_clip_model import OpenClipModel
from vendor_service.engine.process_model import ModelProcessError, ProcessModel
from vendor_service.settings import Settings


def _settings() -> Settings:
    return Settings(model=TINY_MODEL, pretrained="random", dev_mode=True, torch_threads=1)


def _broken_factory(settings: Settings) -> OpenClipModel:
    raise ValueError("no such checkpoint")


class _SlowOnRequest(OpenClipModel):
    """Takes two seconds over a text batch of one "slow:<path>": a forward to kill in. It
    creates the file at <path> as it starts, for the test to know it is inside."""

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        if texts[0].startswith("slow:"):
            Path(texts[0].removeprefix("slow:")).touch()
            time.sleep(2)
        return super().encode_texts(texts)


def _slow_factory(settings: Settings) -> OpenClipModel:
    return _SlowOnRequest(settings)


@pytest.fixture(scope="module")
def remote() -> Iterator[ProcessModel]:
    model = ProcessModel(_settings(), _slow_factory)
    yield model
    model.close()


@pytest.fixture(scope="module")
def local() -> OpenClipModel:
    return OpenClipModel(_settings())


def test_matches_the_model_in_process(remote: ProcessModel, local: OpenClipModel) -> None:
    assert remote.info == local.info
    size = local.info.image_size
    normalised = torch.rand(3, 3, size, size)  # goes through the pipe
    assert torch.allclose(
        remote.encode_images(normalised), local.encode_images(normalised), atol=1e-5
    )
    pixels = torch.randint(0, 256, (5, 3, size, size), dtype=torch.uint8)  # through a slot
    assert torch.allclose(remote.encode_images(pixels), local.encode_images(pixels), atol=1e-5)
    texts = ["a photo of a star", "a sketch of a cat"]
    assert torch.allclose(remote.encode_texts(texts), local.encode_texts(texts), atol=1e-5)


def test_calls_in_flight_at_once_each_get_their_own_answer(
    remote: ProcessModel, local: OpenClipModel
) -> None:
    texts = [[f"a drawing of shape number {i}"] * (1 + i % 3) for i in range(24)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(remote.encode_texts, texts))
    for batch, answer in zip(texts, answers, strict=True):
        assert torch.allclose(answer, local.encode_texts(batch), atol=1e-5)


def test_image_batches_in_flight_at_once_never_share_a_slot(
    remote: ProcessModel, local: OpenClipModel
) -> None:
    size = local.info.image_size
    batches = [torch.full((1 + i % 4, 3, size, size), i * 9, dtype=torch.uint8) for i in range(16)]
    with ThreadPoolExecutor(max_workers=6) as pool:  # more callers than slots
        answers = list(pool.map(remote.encode_images, batches))
    for batch, answer in zip(batches, answers, strict=True):
        assert torch.allclose(answer, local.encode_images(batch), atol=1e-5)


def test_without_shared_memory_image_batches_go_through_the_pipe(
    monkeypatch: pytest.MonkeyPatch, local: OpenClipModel
) -> None:
    def no_room(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vendor_service.engine.process_model.BatchSlots", no_room)
    model = ProcessModel(_settings(), _slow_factory)
    try:
        size = local.info.image_size
        pixels = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
        assert torch.allclose(model.encode_images(pixels), local.encode_images(pixels), atol=1e-5)
    finally:
        model.close()


def test_a_forward_that_raises_fails_only_its_call(remote: ProcessModel) -> None:
    pid = remote.pid
    with pytest.raises(ModelProcessError):
        remote.encode_images(torch.zeros(1, 3, 7, 7))
    assert remote.encode_texts(["still here"]).shape == (1, remote.info.embedding_dim)
    assert remote.pid == pid


def test_a_child_killed_mid_forward_fails_the_calls_in_flight_then_restarts(
    remote: ProcessModel, tmp_path: Path
) -> None:
    pid = remote.pid
    assert pid is not None
    inside = tmp_path / "inside-the-forward"
    running = remote.submit("texts", [f"slow:{inside}"])
    queued = remote.submit("texts", ["waits in the pipe"])
    asyncio.run(until(inside.exists, what="the child to start the slow forward"))
    os.kill(pid, signal.SIGKILL)
    for call in (running, queued):
        with pytest.raises(ModelProcessError, match="died"):
            call.result(timeout=10)
    out = remote.encode_texts(["served by a new one"])
    assert out.shape == (1, remote.info.embedding_dim)
    assert remote.pid != pid


def test_a_child_that_died_while_idle_costs_no_call(remote: ProcessModel) -> None:
    pid = remote.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    until_dead(pid)
    out = remote.encode_texts(["nothing was in flight"])
    assert out.shape == (1, remote.info.embedding_dim)
    assert remote.pid != pid


def test_a_model_that_cannot_load_refuses_to_start() -> None:
    with pytest.raises(ModelProcessError, match="no such checkpoint"):
        ProcessModel(_settings(), _broken_factory)


def _within(seconds: float, call: Callable[[], torch.Tensor]) -> torch.Tensor:
    """`call()` in a daemon thread: its answer or its exception, or a failure if it blocks."""
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_outcome(call)), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert outcome, f"still blocked after {seconds} s"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    assert isinstance(outcome[0], torch.Tensor)
    return outcome[0]


def _outcome(call: Callable[[], torch.Tensor]) -> object:
    try:
        return call()
    except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
        return exc


def test_a_batch_that_could_not_be_sent_gives_its_slot_back(
    monkeypatch: pytest.MonkeyPatch, local: OpenClipModel
) -> None:
    model = ProcessModel(_settings(), _slow_factory)  # 2 slots (VENDOR_BATCHES_IN_FLIGHT)
    try:
        pid = model.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        until_dead(pid)
        restart = model._start

        def cannot_start() -> None:
            raise ModelProcessError("no room for a new model process")

        monkeypatch.setattr(model, "_start", cannot_start)
        size = local.info.image_size
        pixels = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
        for _ in range(3):  # more failures than slots: a leaked slot blocks the third
            with pytest.raises(ModelProcessError, match="no room"):
                _within(10, lambda: model.encode_images(pixels))
        monkeypatch.setattr(model, "_start", restart)
        out = _within(60, lambda: model.encode_images(pixels))
        assert torch.allclose(out, local.encode_images(pixels), atol=1e-5)
    finally:
        model.close()
