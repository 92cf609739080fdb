"""`keys migrate`: a ledger kept under untagged key names moved to the tagged ones, in place.

Untagged layout, one server: `<prefix>key:<id>` (the account), `<prefix>idem:<id>:<digest>`
(Idempotency-Key records), `<prefix>res:<res_id>` (holds in flight) and one `<prefix>leases`.
Each account and record is renamed to its `{<id>}` name (a rename keeps its time to live) and
the id joins the key index. Holds still in flight are refunded, as their leases would have
been: run it with the vendor stopped. Rate-limit counters carry the tag already and stay.
Running it twice moves nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from shared.redis_connection import AsyncRedis
from vendor_service.metering.ledger import Ledger


@dataclass(frozen=True)
class Migrated:
    accounts: int
    idempotency_records: int
    holds_refunded: int


async def migrate_untagged(ledger: Ledger) -> Migrated:
    """Move `ledger`'s accounts from untagged names to tagged ones (one server only: an
    untagged ledger cannot have run on a cluster)."""
    client, prefix = ledger.client, ledger.prefix
    if isinstance(client, aioredis.RedisCluster):
        return Migrated(0, 0, 0)
    accounts = records = 0
    for name in await _names(client, f"{prefix}key:*"):
        key_id = name.removeprefix(f"{prefix}key:")
        await client.sadd(ledger.key_index, key_id)
        accounts += bool(await client.renamenx(name, ledger.key_hash(key_id)))
    for name in await _names(client, f"{prefix}idem:*"):
        key_id, _, digest = name.removeprefix(f"{prefix}idem:").partition(":")
        target = f"{prefix}{{{key_id}}}:idem:{digest}"
        records += bool(await client.renamenx(name, target))
    return Migrated(accounts, records, await _refund_holds(ledger, client))


async def _refund_holds(ledger: Ledger, client: aioredis.Redis) -> int:
    refunded = 0
    for name in await _names(client, f"{ledger.prefix}res:*"):
        key_id, cost = await client.hmget(name, ["key_id", "cost"])
        if key_id is not None and cost is not None:
            owner = key_id.decode() if isinstance(key_id, bytes) else str(key_id)
            await client.hincrby(ledger.key_hash(owner), "reserved", -int(cost))
            refunded += 1
        await client.delete(name)
    await client.delete(f"{ledger.prefix}leases")
    return refunded


async def _names(client: AsyncRedis, pattern: str) -> list[str]:
    found = [name async for name in client.scan_iter(match=pattern, count=1000)]
    return [name.decode() if isinstance(name, bytes) else str(name) for name in found]
