"""Per-key rate limits (requests/s and items/s) with the `limits` library on our Redis."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.util import WindowStats

from shared import headers as h
from vendor_service.errors import RateLimited
from vendor_service.metering.rate_pipeline import window_pipeline
from vendor_service.metering.script_pipeline import ScriptPipeliner

# limits' strategies by name; sliding-window-counter is O(1) per call in Redis, moving-window's
# scripts walk a list as long as the limit (20,000 entries for the default items limit).
DEFAULT_STRATEGY = "sliding-window-counter"
STRATEGIES: dict[str, type[RateLimiter]] = {
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
}


@dataclass(frozen=True)
class RateState:
    """What the X-RateLimit-* headers report after a request was admitted."""

    limit_requests: int
    remaining_requests: int
    limit_items: int
    remaining_items: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        return {
            h.RATELIMIT_LIMIT_REQUESTS: str(self.limit_requests),
            h.RATELIMIT_REMAINING_REQUESTS: str(self.remaining_requests),
            h.RATELIMIT_LIMIT_ITEMS: str(self.limit_items),
            h.RATELIMIT_REMAINING_ITEMS: str(self.remaining_items),
            h.RATELIMIT_RESET: f"{self.reset_seconds:.3f}",
        }


def limits_uri(redis_url: str) -> str:
    """redis:// or unix:// URL -> the `limits` async storage URI."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class KeyRateLimiter:
    def __init__(
        self,
        redis_url: str,
        key_prefix: str,
        requests: str,
        items: str,
        pool: aioredis.ConnectionPool | None = None,
        pipelined: bool = True,
        strategy: str = DEFAULT_STRATEGY,
        pipeliner: ScriptPipeliner | None = None,
    ) -> None:
        options: dict[str, Any] = {"connection_pool": pool} if pool is not None else {}
        self.storage = RedisStorage(
            limits_uri(redis_url), implementation="redispy", key_prefix=key_prefix, **options
        )
        self.limiter: RateLimiter = STRATEGIES[strategy](self.storage)
        # One round trip for all hits and window reads, when the storage allows it; shared
        # with the other scripts of the same turn when a pipeliner is given.
        self.pipeline = window_pipeline(self.storage, strategy, pipeliner) if pipelined else None
        self.requests: RateLimitItem | None = parse(requests) if requests else None
        self.items: RateLimitItem | None = parse(items) if items else None

    async def hit(self, key_id: str, items: int) -> RateState | None:
        """Count one request of `items` inputs, or raise RateLimited with a Retry-After."""
        wanted = {"requests": (self.requests, 1), "items": (self.items, items)}
        active = {kind: (limit, cost) for kind, (limit, cost) in wanted.items() if limit}
        if not active:
            return None
        allowed, windows = await self._hit_and_read(list(active.values()), key_id)
        stats = dict(zip(active, windows, strict=True))
        reset = max(0.0, max(s.reset_time for s in stats.values()) - time.time())
        if not all(allowed):
            raise RateLimited(
                "rate limit exceeded for this API key; slow down",
                retry_after=max(1, math.ceil(reset)),
            )
        return RateState(
            limit_requests=self.requests.amount if self.requests else 0,
            remaining_requests=stats["requests"].remaining if "requests" in stats else 0,
            limit_items=self.items.amount if self.items else 0,
            remaining_items=stats["items"].remaining if "items" in stats else 0,
            reset_seconds=reset,
        )

    async def _hit_and_read(
        self, active: list[tuple[RateLimitItem, int]], key_id: str
    ) -> tuple[list[bool], list[WindowStats]]:
        """Hit every limit, then read every window (for the headers)."""
        if self.pipeline is not None:
            return await self.pipeline.hit_and_read(active, key_id)
        hits = [self.limiter.hit(limit, key_id, cost=cost) for limit, cost in active]
        allowed = await asyncio.gather(*hits)
        windows = [self.limiter.get_window_stats(limit, key_id) for limit, _ in active]
        return list(allowed), list(await asyncio.gather(*windows))
