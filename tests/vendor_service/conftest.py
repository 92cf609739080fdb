"""In-process vendor apps (real Redis, real tiny model) driven through httpx's ASGI transport."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.support.live_vendor import ADMIN_TOKEN, TINY_MODEL
from tests.vendor_service.models import ControllableModel, controllable_factory
from vendor_service.server.app import create_app
from vendor_service.settings import Settings

MODEL_ID = f"{TINY_MODEL}@random0"


@dataclass
class VendorApp:
    client: httpx.AsyncClient
    settings: Settings
    model: ControllableModel
    app: Any

    @property
    def state(self) -> Any:
        return self.app.state.vendor

    async def create_key(self, budget: int, name: str = "test") -> tuple[str, str]:
        response = await self.client.post(
            "/v1/admin/keys", json={"name": name, "budget": budget}, headers=admin_headers()
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["key_id"], body["api_key"]

    async def key_info(self, key_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/admin/keys/{key_id}", headers=admin_headers())
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def embed(
        self, api_key: str, inputs: Any, modality: str = "text", **extra: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {api_key}", **extra.pop("headers", {})}
        body = {"model": MODEL_ID, "input": inputs, "modality": modality, **extra}
        return await self.client.post("/v1/embeddings", json=body, headers=headers)


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def png_b64(width: int = 40, height: int = 30, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype="uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_settings(redis_url: str, redis_prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "redis_prefix": redis_prefix,
        "admin_token": ADMIN_TOKEN,
        "model": TINY_MODEL,
        "pretrained": "random",
        # Settling the heap costs a full collection (~0.4 s) per app start; test_heap.py and
        # the subprocess tests run it, the in-process apps leave the collector alone.
        "gc_threshold": 0,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[VendorApp]:
    holder: list[ControllableModel] = []
    app = create_app(settings, model_factory=controllable_factory(holder))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://vendor") as client:
            yield VendorApp(client, settings, holder[0], app)


AppMaker = Callable[..., AbstractAsyncContextManager[VendorApp]]


def app_maker(redis_url: str, redis_prefix: str) -> AppMaker:
    def make(**overrides: Any) -> AbstractAsyncContextManager[VendorApp]:
        return running_app(test_settings(redis_url, redis_prefix, **overrides))

    return make


@pytest.fixture
def make_app(redis_url: str, redis_prefix: str) -> AppMaker:
    """`async with make_app(max_batch_size=4) as vendor:` -> an app with those settings."""
    return app_maker(redis_url, redis_prefix)


@pytest.fixture
async def vendor_app(make_app: AppMaker) -> AsyncIterator[VendorApp]:
    async with make_app() as running:
        yield running


@pytest.fixture
def each_make_app(each_redis_url: str, each_redis_prefix: str) -> AppMaker:
    """`make_app`, once on one Redis server and once on the Redis Cluster."""
    return app_maker(each_redis_url, each_redis_prefix)


@pytest.fixture
async def each_vendor_app(each_make_app: AppMaker) -> AsyncIterator[VendorApp]:
    """`vendor_app`, once on one Redis server and once on the Redis Cluster."""
    async with each_make_app() as running:
        yield running
