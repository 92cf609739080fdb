"""Everything the lifespan builds, handed to routes through `api.deps`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis.asyncio as aioredis
import torch

from vendor_service.engine.batcher import Batcher, ModelHealth
from vendor_service.engine.model import EmbeddingModel
from vendor_service.metering import Ledger
from vendor_service.metering.rate_limits import KeyRateLimiter
from vendor_service.metrics import VendorMetrics
from vendor_service.settings import Settings


@dataclass
class VendorState:
    settings: Settings
    metrics: VendorMetrics
    redis: aioredis.Redis
    ledger: Ledger
    rate_limiter: KeyRateLimiter
    model: EmbeddingModel
    executor: ThreadPoolExecutor  # the threads that run (or wait on) forward passes
    decode_pool: ThreadPoolExecutor  # image decoding and preprocessing
    text_batcher: Batcher[str]
    image_batcher: Batcher[torch.Tensor]
    health: ModelHealth
    warmed_up: bool = False

    @property
    def ready(self) -> bool:
        return self.warmed_up and self.health.ok
