"""Engine: one model behind a batcher per modality, started, warmed up and stopped as one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import torch

from shared.schemas import Modality
from tests.support.live_vendor import TINY_MODEL
from tests.vendor_service.models import ControllableModel
from vendor_service.engine.engine import Engine
from vendor_service.engine.open_clip_model import OpenClipModel
from vendor_service.errors import Unavailable
from vendor_service.metrics import VendorMetrics
from vendor_service.settings import Settings


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"model": TINY_MODEL, "pretrained": "random", "dev_mode": True,
                                 "inference_process": False, "max_wait_ms": 0.0}  # fmt: skip
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny() -> OpenClipModel:
    return OpenClipModel(_settings())


@pytest.fixture
async def engine(tiny: OpenClipModel) -> AsyncIterator[Engine]:
    made = Engine(ControllableModel(tiny), _settings(), VendorMetrics())
    made.start()
    yield made
    await made.stop()


def _model(engine: Engine) -> ControllableModel:
    assert isinstance(engine.model, ControllableModel)
    return engine.model


async def test_each_modality_goes_to_its_own_forward(engine: Engine, tiny: OpenClipModel) -> None:
    size = engine.info.image_size
    images = [torch.zeros(3, size, size, dtype=torch.uint8)] * 2
    texts = await engine.encode(Modality.TEXT, ["a cat", "a dog", "a cow"])
    pictures = await engine.encode(Modality.IMAGE, images)
    assert texts.shape == (3, engine.info.embedding_dim)
    assert pictures.shape == (2, engine.info.embedding_dim)
    assert torch.allclose(texts, tiny.encode_texts(["a cat", "a dog", "a cow"]), atol=1e-5)
    assert torch.allclose(pictures, tiny.encode_images(torch.stack(images)), atol=1e-5)


async def test_warm_up_runs_one_forward_per_modality(engine: Engine) -> None:
    assert not engine.warmed_up
    await engine.warm_up()
    assert engine.warmed_up and _model(engine).forward_sizes == [1, 1]


async def test_submit_holds_the_items_until_admitted(engine: Engine) -> None:
    admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    pending = engine.submit(Modality.TEXT, ["paid for later"], admitted)
    await asyncio.sleep(0.05)  # time for a batch, were the items eligible, to take them
    assert _model(engine).forward_sizes == [] and not pending.done()
    assert engine.batchers[Modality.TEXT].queued_items == 1
    admitted.set_result(None)
    assert (await pending).shape == (1, engine.info.embedding_dim)


async def test_a_failed_forward_marks_the_shared_health(engine: Engine) -> None:
    _model(engine).failing = True
    with pytest.raises(Unavailable):
        await engine.encode(Modality.IMAGE, [torch.zeros(3, 8, 8, dtype=torch.uint8)])
    assert not engine.health.ok  # one model behind both batchers: one health
    _model(engine).failing = False
    await engine.encode(Modality.TEXT, ["recovered"])
    assert engine.health.ok


async def test_stop_answers_what_waits_and_ends_the_threads(tiny: OpenClipModel) -> None:
    engine = Engine(ControllableModel(tiny), _settings(), VendorMetrics())
    engine.start()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = engine.submit(Modality.TEXT, ["never admitted"], never)
    await engine.stop()
    with pytest.raises(Unavailable) as stopped:
        await waiting
    assert stopped.value.code == "not_ready"
    with pytest.raises(RuntimeError):  # shut down: no more forwards or decoding
        engine.executor.submit(print)
    with pytest.raises(RuntimeError):
        engine.decode_pool.submit(print)
