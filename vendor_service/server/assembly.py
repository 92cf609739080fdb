"""What a serving process holds while it runs: Redis, the ledger, the rate limiter, the engine,
the lease reaper; built in that order and closed in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from shared.redis_connection import AsyncRedis, connect_async
from shared.redis_server import RedisEndpoint, resolve_redis
from vendor_service.engine.devices import gpu_count, worker_device
from vendor_service.engine.engine import Engine
from vendor_service.engine.model import ModelFactory
from vendor_service.metering import Ledger, run_reaper
from vendor_service.metering.rate_limits import KeyRateLimiter
from vendor_service.metering.replication import ReplicaWait, resolve_wait
from vendor_service.metering.script_pipeline import ScriptPipeliner
from vendor_service.metrics import VendorMetrics
from vendor_service.settings import Settings
from vendor_service.state import VendorState

log = logging.getLogger(__name__)


@asynccontextmanager
async def serving_state(
    settings: Settings, metrics: VendorMetrics, factory: ModelFactory
) -> AsyncIterator[VendorState]:
    """The state of a serving process, its engine started and warmed up; all of it closed
    (the reaper stopped, the engine stopped, Redis closed) on the way out."""
    endpoint = resolve_redis(settings.redis_url, settings.data_dir, who="vendor")
    state = await build_state(settings, metrics, endpoint, factory)
    reaper = asyncio.create_task(
        run_reaper(state.ledger, settings.reaper_interval_seconds, metrics), name="reaper"
    )
    try:
        await state.engine.warm_up()
        metrics.ready.set(1)
        metrics.worker_device.labels(str(settings.worker_index), state.device).set(1)
        log.info("warm-up done; worker %d ready on %s", settings.worker_index, state.device)
        yield state
    finally:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
        await shutdown(state, endpoint)


def open_redis(settings: Settings, endpoint: RedisEndpoint) -> AsyncRedis:
    """One bounded pool for the ledger and the rate limiter (on one server, requests wait for
    a connection; on a cluster, one pool per node)."""
    return connect_async(
        endpoint.url,
        max_connections=settings.redis_max_connections,
        socket_timeout=5,
        socket_connect_timeout=2,
    )


async def replica_wait(
    settings: Settings, client: AsyncRedis, metrics: VendorMetrics
) -> ReplicaWait:
    """VENDOR_REDIS_WAIT_REPLICAS resolved against the Redis in front of us."""
    replicas = await resolve_wait(client, settings.redis_wait_replicas)
    return ReplicaWait(
        replicas,
        settings.redis_wait_timeout_ms,
        short=lambda _acknowledged: metrics.unreplicated.inc(),
    )


async def build_state(
    settings: Settings, metrics: VendorMetrics, endpoint: RedisEndpoint, factory: ModelFactory
) -> VendorState:
    client = open_redis(settings, endpoint)
    if isinstance(client, aioredis.RedisCluster):
        await client.initialize()  # the slot map, before the first sale needs it
    wait = await replica_wait(settings, client, metrics)
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
        wait=wait,
    )
    limiter = KeyRateLimiter(
        client,
        settings.redis_prefix,
        settings.rate_limit_requests,
        settings.rate_limit_items,
        strategy=settings.rate_limit_strategy,
        pipeliner=pipeliner,
    )
    engine = await Engine.load(settings, factory, metrics)
    log.info("model %s loaded; prices: image %d, text %d credits", engine.info.model_id,
             settings.price_per_image, settings.price_per_text)  # fmt: skip
    engine.start()
    device = worker_device(settings, settings.worker_index, gpu_count())
    return VendorState(settings, metrics, client, ledger, limiter, engine, device)


async def shutdown(state: VendorState, endpoint: RedisEndpoint) -> None:
    state.metrics.ready.set(0)
    state.metrics.worker_device.labels(str(state.settings.worker_index), state.device).set(0)
    await state.engine.stop()
    await state.redis.aclose()
    if isinstance(state.redis, aioredis.Redis):
        await state.redis.connection_pool.disconnect()
    state.metrics.close()
    endpoint.close()
