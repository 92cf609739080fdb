"""The app factory and its lifespan: Redis, ledger, model, warm-up, batchers, lease reaper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio
import redis.asyncio as aioredis
import torch
from fastapi import FastAPI

from shared.redis_server import RedisEndpoint, resolve_redis
from vendor_service.api.errors import install_error_handlers
from vendor_service.api.middleware import BodyLimit, RequestContext
from vendor_service.api.routes import admin, embeddings, health, models, usage
from vendor_service.engine.batcher import Batcher, BatchObserver, ModelHealth
from vendor_service.engine.model import EmbeddingModel, ModelFactory
from vendor_service.engine.open_clip_model import pick_device
from vendor_service.metering import Ledger, run_reaper
from vendor_service.metering.rate_limits import KeyRateLimiter
from vendor_service.metering.script_pipeline import ScriptPipeliner
from vendor_service.metrics import VendorMetrics
from vendor_service.server.heap import settled_heap
from vendor_service.settings import Settings, load_settings
from vendor_service.state import VendorState

log = logging.getLogger(__name__)


def open_clip_factory(settings: Settings) -> EmbeddingModel:
    from vendor_service.engine.open_clip_model import OpenClipModel

    return OpenClipModel(settings)


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
        endpoint = resolve_redis(settings.redis_url, settings.data_dir, who="vendor")
        state = await build_state(settings, metrics, endpoint, model_factory)
        app.state.vendor = state
        reaper = asyncio.create_task(
            run_reaper(state.ledger, settings.reaper_interval_seconds, metrics), name="reaper"
        )
        try:
            await warm_up(state)
            with settled_heap(settings.gc_threshold):
                yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await shutdown(state, endpoint)

    return lifespan


def build_model(factory: ModelFactory, settings: Settings) -> EmbeddingModel:
    """The model in this process, or behind a child process (VENDOR_INFERENCE_PROCESS)."""
    if not forward_in_child(settings, factory):
        return factory(settings)
    from vendor_service.engine.process_model import ProcessModel

    return ProcessModel(settings, factory)


def forward_in_child(settings: Settings, factory: ModelFactory | None = None) -> bool:
    """VENDOR_INFERENCE_PROCESS, with `auto` resolved: a child process on CPU with one worker,
    if the model factory can be sent to one (a factory defined in a function cannot)."""
    if settings.inference_process != "auto":
        return settings.inference_process
    if settings.workers != 1 or pick_device(settings.device).type != "cpu":
        return False
    if factory is not None and not _picklable(factory):
        log.info("the model factory %r cannot go to a model process; forward passes run in a "
                 "thread (VENDOR_INFERENCE_PROCESS=auto)", factory)  # fmt: skip
        return False
    return True


def batches_in_flight(model: EmbeddingModel, settings: Settings) -> int:
    """VENDOR_BATCHES_IN_FLIGHT in front of a model process; 1 for a forward in a thread."""
    from vendor_service.engine.process_model import ProcessModel

    return settings.batches_in_flight if isinstance(model, ProcessModel) else 1


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - pickling a closure raises AttributeError, PicklingError...
        return False
    return True


def open_redis(settings: Settings, endpoint: RedisEndpoint) -> aioredis.Redis:
    """One bounded pool for the ledger and the rate limiter (requests wait for a connection)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        endpoint.url,
        max_connections=settings.redis_max_connections,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=2,
    )
    return aioredis.Redis(connection_pool=pool)


def start_batcher(
    modality: str,
    forward: Callable[[Any], torch.Tensor],
    collate: Callable[[list[Any]], Any] | None,
    settings: Settings,
    metrics: VendorMetrics,
    executor: ThreadPoolExecutor,
    health: ModelHealth,
    in_flight: int,
) -> Batcher[Any]:
    observer = BatchObserver(
        on_batch=lambda size, seconds: _observe_batch(metrics, modality, size, seconds),
        on_queue_depth=metrics.queue_depth.labels(modality).set,
    )
    batcher: Batcher[Any] = Batcher(
        forward,
        executor,
        settings.max_batch_size,
        settings.max_wait_ms,
        settings.max_queue_items,
        health,
        observer,
        collate,
        settings.inference_timeout_seconds,
        in_flight,
    )
    batcher.start()
    return batcher


async def build_state(
    settings: Settings, metrics: VendorMetrics, endpoint: RedisEndpoint, factory: ModelFactory
) -> VendorState:
    client = open_redis(settings, endpoint)
    # The ledger's and the rate limiter's scripts share it, as their clients share the pool.
    pipeliner = ScriptPipeliner(client) if settings.redis_pipelining else None
    ledger = Ledger(
        client,
        settings.redis_prefix,
        pepper=settings.key_pepper,
        lease_seconds=settings.lease_seconds,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        auth_cache_seconds=settings.auth_cache_seconds,
        pipeliner=pipeliner,
    )
    limiter = KeyRateLimiter(
        endpoint.url,
        f"{settings.redis_prefix}ratelimit",
        settings.rate_limit_requests,
        settings.rate_limit_items,
        client.connection_pool,
        strategy=settings.rate_limit_strategy,
        pipeliner=pipeliner,
    )
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    model = await anyio.to_thread.run_sync(build_model, factory, settings)
    log.info("model %s loaded; prices: image %d, text %d credits", model.info.model_id,
             settings.price_per_image, settings.price_per_text)  # fmt: skip
    in_flight = batches_in_flight(model, settings)
    # Threads that wait on forward passes: one in all with the model here; with a model
    # process, one per batch in flight of each modality (they only wait on its replies).
    executor = ThreadPoolExecutor(max_workers=2 * in_flight if in_flight > 1 else 1,
                                  thread_name_prefix="inference")  # fmt: skip
    health = ModelHealth()
    shared = (settings, metrics, executor, health, in_flight)
    return VendorState(
        settings=settings,
        metrics=metrics,
        redis=client,
        ledger=ledger,
        rate_limiter=limiter,
        model=model,
        executor=executor,
        decode_pool=ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="decode"),
        text_batcher=start_batcher("text", model.encode_texts, None, *shared),
        image_batcher=start_batcher("image", model.encode_images, torch.stack, *shared),
        health=health,
    )


def _observe_batch(metrics: VendorMetrics, modality: str, size: int, seconds: float) -> None:
    metrics.batch_size.labels(modality).observe(size)
    metrics.inference_seconds.labels(modality).observe(seconds)


async def warm_up(state: VendorState) -> None:
    """One forward per modality; /readyz turns 200 only after both succeeded."""
    size = state.model.info.image_size
    await state.text_batcher.submit(["a warm-up text"])
    await state.image_batcher.submit([torch.zeros(3, size, size, dtype=torch.uint8)])
    state.warmed_up = True
    state.metrics.ready.set(1)
    log.info("warm-up done; ready")


async def shutdown(state: VendorState, endpoint: RedisEndpoint) -> None:
    state.metrics.ready.set(0)
    await state.text_batcher.stop()
    await state.image_batcher.stop()
    close = getattr(state.model, "close", None)
    if close is not None:  # a model process: its calls in flight fail, so no thread waits on
        close()  # a hung child below
    state.executor.shutdown(wait=True)
    state.decode_pool.shutdown(wait=True)
    await state.redis.aclose()
    await state.redis.connection_pool.disconnect()
    state.metrics.close()
    endpoint.close()
