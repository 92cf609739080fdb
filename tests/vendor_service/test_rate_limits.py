"""KeyRateLimiter with its hits and window reads pipelined or made one call at a time,
for each of `limits`' strategies."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import cast, get_args

import pytest
import redis.asyncio as aioredis
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter

from vendor_service.errors import RateLimited
from vendor_service.rate_limits import STRATEGIES, KeyRateLimiter
from vendor_service.rate_pipeline import SlidingWindowPipeline
from vendor_service.settings import Settings

PIPELINED = [True, False]
PIPELINED_STRATEGIES = ["sliding-window-counter", "moving-window"]
CASES = [(s, p) for s in PIPELINED_STRATEGIES for p in PIPELINED] + [("fixed-window", False)]


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0]}-{'pipelined' if case[1] else 'calls'}")
async def limiter(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> AsyncIterator[KeyRateLimiter]:
    strategy, pipelined = request.param
    made = KeyRateLimiter(
        redis_url, redis_prefix + "rl", "3/minute", "5/minute", pipelined=pipelined,
        strategy=strategy,
    )  # fmt: skip
    assert (made.pipeline is not None) == pipelined
    yield made
    await _connection(made).aclose()


async def test_headers_count_down_then_429(limiter: KeyRateLimiter) -> None:
    first = await limiter.hit("k1", 2)
    second = await limiter.hit("k1", 1)
    assert first is not None and second is not None
    assert (first.limit_requests, first.limit_items) == (3, 5)
    assert (first.remaining_requests, first.remaining_items) == (2, 3)
    assert (second.remaining_requests, second.remaining_items) == (1, 2)
    if limiter.pipeline is None or isinstance(limiter.pipeline, SlidingWindowPipeline):
        # limits' sliding-window reset is a TTL modulo the window: 0 on the millisecond edge
        assert 0.0 <= second.reset_seconds <= 60.0
    if isinstance(limiter.limiter, MovingWindowRateLimiter):
        assert 59.0 < second.reset_seconds <= 60.0
    with pytest.raises(RateLimited) as raised:
        await limiter.hit("k1", 3)  # 3 items: over the 2 left
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    other = await limiter.hit("k2", 1)  # keys are counted apart
    assert other is not None and other.remaining_requests == 2


@pytest.mark.parametrize("strategy", PIPELINED_STRATEGIES)
async def test_both_paths_give_the_same_states(
    redis_url: str, redis_prefix: str, strategy: str
) -> None:
    states, resets = [], []
    for pipelined in PIPELINED:
        made = KeyRateLimiter(redis_url, f"{redis_prefix}{pipelined}", "10/minute", "20/minute",
                              pipelined=pipelined, strategy=strategy)  # fmt: skip
        seen = [await made.hit("k", cost) for cost in (1, 4, 2)]
        states.append([(s.remaining_requests, s.remaining_items) for s in seen if s])
        resets.append([s.reset_seconds for s in seen if s])
        await _connection(made).aclose()
    assert states[0] == states[1] == [(9, 19), (8, 15), (7, 13)]
    assert all(0.0 <= r <= 60.0 for r in resets[0] + resets[1])


def test_fixed_window_has_no_pipelined_form(redis_url: str, redis_prefix: str) -> None:
    made = KeyRateLimiter(redis_url, redis_prefix + "rl", "3/minute", "", strategy="fixed-window")
    assert made.pipeline is None


@pytest.mark.parametrize("strategy", PIPELINED_STRATEGIES)
async def test_pipeline_recovers_when_redis_lost_its_scripts(
    redis_url: str, redis_prefix: str, strategy: str
) -> None:
    made = KeyRateLimiter(redis_url, redis_prefix + "rl", "3/minute", "5/minute", strategy=strategy)
    assert made.pipeline is not None
    client = _connection(made)
    # Scripts Redis has never seen stand for ones lost to a SCRIPT FLUSH: NOSCRIPT replies.
    salt = f"\n-- {secrets.token_hex(8)}".encode()
    made.pipeline.acquire = client.register_script(_bytes(made.pipeline.acquire.script) + salt)
    made.pipeline.window = client.register_script(_bytes(made.pipeline.window.script) + salt)
    state = await made.hit("k", 2)
    assert state is not None
    assert (state.remaining_requests, state.remaining_items) == (2, 3)  # counted exactly once
    state = await made.hit("k", 1)  # now loaded: the pipelined path proper
    assert state is not None and (state.remaining_requests, state.remaining_items) == (1, 2)
    await client.aclose()


def _connection(limiter: KeyRateLimiter) -> aioredis.Redis:
    """The redis-py client under the limiter's `limits` storage (implementation="redispy")."""
    bridge = limiter.storage.bridge
    assert isinstance(bridge, RedispyBridge)
    # limits types it as a protocol of the few calls it makes; it is a redis.asyncio.Redis.
    return cast(aioredis.Redis, bridge.get_connection())


def _bytes(script: str | bytes) -> bytes:
    return script.encode() if isinstance(script, str) else script


def test_every_strategy_setting_has_a_limiter() -> None:
    annotation = Settings.model_fields["rate_limit_strategy"].annotation
    assert set(get_args(annotation)) == set(STRATEGIES)
