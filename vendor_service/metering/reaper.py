"""Lease reaper: every replica periodically refunds reservations whose process died.

Each round, one replica claims the reaping (a key that lives one interval) and walks every
API key's leases, on whichever Redis node they are (`Ledger.reap`); the others skip it. So
the work per interval is the same with one replica or twenty.
"""

from __future__ import annotations

import asyncio
import logging

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
            refunded = await ledger.reap() if await ledger.claim_reaping(interval_seconds) else 0
            if refunded:
                if metrics is not None:
                    metrics.refunds.labels("lease_expired").inc(refunded)
                log.warning("refunded %d reservation(s) whose lease expired", refunded)
        except _REDIS_FAILURES as exc:
            log.warning("lease reaper could not reach Redis: %s", type(exc).__name__)
        await asyncio.sleep(interval_seconds)
