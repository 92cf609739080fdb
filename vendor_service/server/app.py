"""The app factory and its lifespan: the serving state (Redis, ledger, rate limits, engine,
reaper) for as long as the app runs, with the garbage collector settled once it is warm."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vendor_service.api.errors import install_error_handlers
from vendor_service.api.middleware import BodyLimit, RequestContext
from vendor_service.api.routes import admin, embeddings, health, models, usage
from vendor_service.engine.model import ModelFactory
from vendor_service.engine.placement import open_clip_factory
from vendor_service.metrics import VendorMetrics
from vendor_service.server.assembly import serving_state
from vendor_service.server.heap import settled_heap
from vendor_service.settings import Settings, load_settings


def create_app(
    settings: Settings | None = None, model_factory: ModelFactory | None = None
) -> FastAPI:
    """A vendor app; `model_factory` swaps the model (tests), everything else stays real."""
    settings = settings or load_settings()
    metrics = VendorMetrics()
    app = FastAPI(
        title="CLIP embedding vendor",
        version="0.1.0",
        lifespan=_lifespan(settings, metrics, model_factory or open_clip_factory),
    )
    for module in (embeddings, models, usage, admin, health):
        app.include_router(module.router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def _lifespan(
    settings: Settings, metrics: VendorMetrics, model_factory: ModelFactory
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with serving_state(settings, metrics, model_factory) as state:
            app.state.vendor = state
            with settled_heap(settings.gc_threshold):
                yield

    return lifespan
