"""KeyRateLimiter with its hits and window reads made one call at a time, pipelined per request,
or shared with other requests' calls through a ScriptPipeliner, for each of `limits`'
strategies."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import cast, get_args

import pytest
import redis.asyncio as aioredis
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter

from tests.support.redis import PipelineRecorder
from vendor_service.errors import RateLimited
from vendor_service.metering.rate_limits import STRATEGIES, KeyRateLimiter
from vendor_service.metering.rate_pipeline import SlidingWindowPipeline
from vendor_service.metering.script_pipeline import ScriptPipeliner
from vendor_service.settings import Settings

MODES = ["pipelined", "shared", "calls"]
PIPELINED_STRATEGIES = ["sliding-window-counter", "moving-window"]
CASES = [(s, m) for s in PIPELINED_STRATEGIES for m in MODES] + [("fixed-window", "calls")]


@pytest.fixture
async def pipeliner(redis_url: str) -> AsyncIterator[ScriptPipeliner]:
    client = aioredis.from_url(redis_url)
    yield ScriptPipeliner(client)
    await client.aclose()


def make_limiter(
    redis_url: str, prefix: str, mode: str, strategy: str, pipeliner: ScriptPipeliner,
    requests: str = "3/minute", items: str = "5/minute",
) -> KeyRateLimiter:
    """`mode` says how its calls reach Redis: one at a time, one pipeline per request, or
    shared with other requests' through `pipeliner`."""
    made = KeyRateLimiter(
        redis_url, prefix, requests, items, pipelined=mode != "calls", strategy=strategy,
        pipeliner=pipeliner if mode == "shared" else None,
    )  # fmt: skip
    assert (made.pipeline is not None) == (mode != "calls")
    return made


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0]}-{case[1]}")
async def limiter(
    request: pytest.FixtureRequest,
    redis_url: str,
    redis_prefix: str,
    pipeliner: ScriptPipeliner,
) -> AsyncIterator[KeyRateLimiter]:
    strategy, mode = request.param
    made = make_limiter(redis_url, redis_prefix + "rl", mode, strategy, pipeliner)
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
async def test_every_path_gives_the_same_states(
    redis_url: str, redis_prefix: str, strategy: str, pipeliner: ScriptPipeliner
) -> None:
    states, resets = [], []
    for mode in MODES:
        made = make_limiter(redis_url, f"{redis_prefix}{mode}", mode, strategy, pipeliner,
                            "10/minute", "20/minute")  # fmt: skip
        seen = [await made.hit("k", cost) for cost in (1, 4, 2)]
        states.append([(s.remaining_requests, s.remaining_items) for s in seen if s])
        resets.append([s.reset_seconds for s in seen if s])
        await _connection(made).aclose()
    assert states == [[(9, 19), (8, 15), (7, 13)]] * len(MODES)
    assert all(0.0 <= r <= 60.0 for seen in resets for r in seen)


@pytest.mark.parametrize("strategy", PIPELINED_STRATEGIES)
async def test_requests_of_one_turn_share_one_round_trip(
    redis_url: str, redis_prefix: str, strategy: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(redis_url, redis_prefix + "rl", "shared", strategy, pipeliner)
    await made.hit("warm", 1)  # scripts loaded: the pipeline's case
    recorder = PipelineRecorder(pipeliner.client)
    states = await asyncio.gather(made.hit("a", 1), made.hit("a", 2), made.hit("b", 1))
    assert recorder.sizes == [12]  # three requests, two hits and two window reads each
    assert [(s.remaining_requests, s.remaining_items) for s in states if s] == [
        (2, 4), (1, 2), (2, 4)
    ]  # fmt: skip
    with pytest.raises(RateLimited):  # "a" has 2 items of 5 left
        await made.hit("a", 3)
    await _connection(made).aclose()


def test_fixed_window_has_no_pipelined_form(redis_url: str, redis_prefix: str) -> None:
    made = KeyRateLimiter(redis_url, redis_prefix + "rl", "3/minute", "", strategy="fixed-window")
    assert made.pipeline is None


@pytest.mark.parametrize("mode", ["pipelined", "shared"])
@pytest.mark.parametrize("strategy", PIPELINED_STRATEGIES)
async def test_pipeline_recovers_when_redis_lost_its_scripts(
    redis_url: str, redis_prefix: str, strategy: str, mode: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(redis_url, redis_prefix + "rl", mode, strategy, pipeliner)
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
