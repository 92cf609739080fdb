"""Everything the lifespan builds, handed to routes through `api.deps`."""

from __future__ import annotations

from dataclasses import dataclass

from shared.redis_connection import AsyncRedis
from vendor_service.engine.engine import Engine
from vendor_service.metering import Ledger
from vendor_service.metering.rate_limits import KeyRateLimiter
from vendor_service.metrics import VendorMetrics
from vendor_service.settings import Settings


@dataclass
class VendorState:
    settings: Settings
    metrics: VendorMetrics
    redis: AsyncRedis  # one bounded pool for the ledger and the rate limiter
    ledger: Ledger
    rate_limiter: KeyRateLimiter
    engine: Engine  # the model, its threads and both batchers
    device: str = "cpu"  # where this worker's model runs (VENDOR_DEVICE resolved)

    @property
    def ready(self) -> bool:
        return self.engine.warmed_up and self.engine.health.ok
