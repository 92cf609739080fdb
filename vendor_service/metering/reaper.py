"""Lease reaper: every replica periodically refunds reservations whose process died.

Leases live per API key (`<prefix>{<key_id>}:leases`), on whichever Redis Cluster node holds
that key. Each round one replica claims the reaping (`<prefix>reaper`, a key that lives one
interval) and walks the key index: one pipelined read of every key's earliest lease (per node
on a cluster), then reap.lua for each key with one that expired. The others skip the round, so
the work per interval is the same with one replica or twenty; it grows with the API keys.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

from redis import exceptions as redis_errors

from shared.redis_connection import OUTAGES
from vendor_service.metering.ledger import Ledger
from vendor_service.metrics import VendorMetrics

log = logging.getLogger(__name__)
_REDIS_FAILURES: tuple[type[Exception], ...] = (*OUTAGES, redis_errors.RedisError)


async def run_reaper(
    ledger: Ledger, interval_seconds: float, metrics: VendorMetrics | None = None
) -> None:
    """Reap expired leases forever (until cancelled); Redis outages are logged, not fatal."""
    while True:
        try:
            ours = await claim_round(ledger, interval_seconds)
            refunded = await reap_expired(ledger) if ours else 0
            if refunded:
                if metrics is not None:
                    metrics.refunds.labels("lease_expired").inc(refunded)
                log.warning("refunded %d reservation(s) whose lease expired", refunded)
        except _REDIS_FAILURES as exc:
            log.warning("lease reaper could not reach Redis: %s", type(exc).__name__)
        await asyncio.sleep(interval_seconds)


async def reap_expired(ledger: Ledger, max_count: int = 1000) -> int:
    """Refund every reservation whose lease has expired, of every key; returns how many."""
    reaped = 0
    async for key_ids in _indexed_key_ids(ledger):
        for key_id in await _keys_with_due_leases(ledger, key_ids):
            reaped += await ledger.reap_key(key_id, max_count)
    return reaped


async def claim_round(ledger: Ledger, seconds: float) -> bool:
    """True for one caller per `seconds` among every process on this ledger: the one that
    reaps this round."""
    claimed = await ledger.client.set(
        f"{ledger.prefix}reaper", secrets.token_hex(4), nx=True, px=max(1, int(seconds * 1000))
    )
    return bool(claimed)


async def _indexed_key_ids(ledger: Ledger, chunk: int = 500) -> AsyncIterator[list[str]]:
    batch: list[str] = []
    async for member in ledger.client.sscan_iter(ledger.key_index, count=chunk):
        batch.append(member.decode() if isinstance(member, bytes) else str(member))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


async def _keys_with_due_leases(ledger: Ledger, key_ids: list[str]) -> list[str]:
    seconds, micros = await ledger.client.time()
    now_ms = seconds * 1000 + micros // 1000
    pipe = ledger.client.pipeline(transaction=False)
    for key_id in key_ids:
        pipe.zrange(ledger.leases(key_id), 0, 0, withscores=True)
    earliest = await pipe.execute()
    # reap.lua reads the clock of the key's own node again: a lease read as due here on
    # another node's clock is refunded only once it is due there.
    return [k for k, first in zip(key_ids, earliest, strict=True) if first
            and first[0][1] <= now_ms]  # fmt: skip
