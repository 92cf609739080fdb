"""Key administration without HTTP (the `keys` CLI): the same ledger, opened on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.redis_connection import connect_async
from shared.redis_server import resolve_redis
from shared.schemas import CreatedKey, UsageReport
from vendor_service.metering import Ledger
from vendor_service.metering.migration import Migrated, migrate_untagged
from vendor_service.metering.replication import ReplicaWait, resolve_wait
from vendor_service.settings import Settings


@asynccontextmanager
async def open_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    endpoint = resolve_redis(settings.redis_url, settings.data_dir, who="vendor keys")
    client = connect_async(endpoint.url, socket_timeout=5, socket_connect_timeout=2)
    try:
        replicas = await resolve_wait(client, settings.redis_wait_replicas)
        wait = ReplicaWait(replicas, settings.redis_wait_timeout_ms)
        yield Ledger(client, settings.redis_prefix, pepper=settings.key_pepper, wait=wait)
    finally:
        await client.aclose()
        endpoint.close()


async def create_key(settings: Settings, name: str, budget: int) -> CreatedKey:
    async with open_ledger(settings) as ledger:
        return await ledger.create_key(name, budget)


async def show_key(settings: Settings, key_id: str) -> UsageReport:
    async with open_ledger(settings) as ledger:
        return await ledger.usage(key_id)


async def topup_key(settings: Settings, key_id: str, amount: int) -> UsageReport:
    async with open_ledger(settings) as ledger:
        return await ledger.topup(key_id, amount)


async def revoke_key(settings: Settings, key_id: str) -> UsageReport:
    async with open_ledger(settings) as ledger:
        return await ledger.revoke(key_id)


async def migrate_ledger(settings: Settings) -> Migrated:
    async with open_ledger(settings) as ledger:
        return await migrate_untagged(ledger)
