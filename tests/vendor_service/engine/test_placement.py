"""VENDOR_INFERENCE_PROCESS: the whole sale path with forward passes in a child process, and
where `auto` puts them."""

from __future__ import annotations

import os
from typing import Literal

import httpx
import pytest

from shared.schemas import Modality
from tests.vendor_service.conftest import MODEL_ID, admin_headers, png_b64, test_settings
from vendor_service.engine.model import EmbeddingModel
from vendor_service.engine.placement import forward_in_child, open_clip_factory
from vendor_service.engine.process_model import ProcessModel
from vendor_service.server.app import create_app
from vendor_service.settings import Settings


async def test_sells_embeddings_from_a_model_process(redis_url: str, redis_prefix: str) -> None:
    settings = test_settings(redis_url, redis_prefix, inference_process=True, torch_threads=1)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        model = app.state.vendor.engine.model
        assert isinstance(model, ProcessModel)
        pid = model.pid
        assert pid is not None
        batchers = app.state.vendor.engine.batchers
        assert batchers[Modality.IMAGE].max_in_flight == 2  # VENDOR_BATCHES_IN_FLIGHT
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vendor") as client:
            key = await client.post(
                "/v1/admin/keys", json={"name": "p", "budget": 100}, headers=admin_headers()
            )
            auth = {"Authorization": f"Bearer {key.json()['api_key']}"}
            body = {"model": MODEL_ID, "input": [png_b64(seed=1), png_b64(seed=2)],
                    "modality": "image"}  # fmt: skip
            images = await client.post("/v1/embeddings", json=body, headers=auth)
            texts = await client.post(
                "/v1/embeddings", json={"model": MODEL_ID, "input": ["a cat"]}, headers=auth
            )
    assert images.status_code == 200, images.text
    assert texts.status_code == 200, texts.text
    assert len(images.json()["data"]) == 2
    assert images.json()["usage"]["budget_remaining"] + images.json()["usage"]["cost"] == 100
    assert model.pid is None  # shut down with the app
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_forward_in_a_thread_runs_one_batch_at_a_time(
    redis_url: str, redis_prefix: str
) -> None:
    settings = test_settings(redis_url, redis_prefix, inference_process=False,
                             batches_in_flight=4)  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        batchers = app.state.vendor.engine.batchers
        assert batchers[Modality.IMAGE].max_in_flight == 1
        assert batchers[Modality.TEXT].max_in_flight == 1


@pytest.mark.parametrize(
    ("setting", "workers", "device", "in_child"),
    [
        ("auto", 1, "cpu", True),  # one process on CPU: the forward gets its own GIL
        ("auto", 2, "cpu", False),  # each worker already has a core
        ("auto", 1, "cuda", False),
        (True, 2, "cpu", True),
        (False, 1, "cpu", False),
    ],
)
def test_auto_runs_the_forward_in_a_child_on_cpu_with_one_worker(
    setting: Literal["auto"] | bool,
    workers: int,
    device: Literal["auto", "cpu", "cuda"],
    in_child: bool,
) -> None:
    settings = Settings(admin_token="t" * 40, inference_process=setting, workers=workers,
                        device=device)  # fmt: skip
    assert forward_in_child(settings) is in_child


def test_the_environment_says_auto_true_or_false(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in (("auto", "auto"), ("true", True), ("0", False)):
        monkeypatch.setenv("VENDOR_INFERENCE_PROCESS", value)
        assert Settings(admin_token="t" * 40).inference_process == expected
    monkeypatch.setenv("VENDOR_INFERENCE_PROCESS", "sometimes")
    with pytest.raises(ValueError, match="inference_process"):
        Settings(admin_token="t" * 40)


def test_auto_keeps_a_factory_that_cannot_be_pickled_in_this_process() -> None:
    settings = Settings(admin_token="t" * 40, device="cpu")

    def local_factory(settings: Settings) -> EmbeddingModel:  # a closure: spawn cannot send it
        raise NotImplementedError

    assert forward_in_child(settings, open_clip_factory) is True
    assert forward_in_child(settings, local_factory) is False
    forced = Settings(admin_token="t" * 40, device="cpu", inference_process=True)
    assert forward_in_child(forced, local_factory) is True  # asked for: ProcessModel will say why
