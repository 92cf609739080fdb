"""VENDOR_INFERENCE_PROCESS=true: the whole sale path with forward passes in a child process."""

from __future__ import annotations

import httpx

from tests.vendor_service.conftest import MODEL_ID, admin_headers, png_b64, test_settings
from vendor_service.app import create_app
from vendor_service.engine.process_model import ProcessModel


async def test_sells_embeddings_from_a_model_process(redis_url: str, redis_prefix: str) -> None:
    settings = test_settings(redis_url, redis_prefix, inference_process=True, torch_threads=1)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        model = app.state.vendor.model
        assert isinstance(model, ProcessModel)
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
    assert not model._process.is_alive()  # shut down with the app
