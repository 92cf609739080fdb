"""KeyRateLimiter with its hits and window reads pipelined or made one call at a time."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from vendor_service.errors import RateLimited
from vendor_service.rate_limits import KeyRateLimiter

PIPELINED = [True, False]


@pytest.fixture(params=PIPELINED, ids=["pipelined", "one-call-each"])
async def limiter(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> AsyncIterator[KeyRateLimiter]:
    made = KeyRateLimiter(
        redis_url, redis_prefix + "rl", "3/minute", "5/minute", pipelined=request.param
    )
    assert (made.pipeline is not None) == request.param
    yield made
    await made.storage.bridge.get_connection().aclose()


async def test_headers_count_down_then_429(limiter: KeyRateLimiter) -> None:
    first = await limiter.hit("k1", 2)
    second = await limiter.hit("k1", 1)
    assert first is not None and second is not None
    assert (first.limit_requests, first.limit_items) == (3, 5)
    assert (first.remaining_requests, first.remaining_items) == (2, 3)
    assert (second.remaining_requests, second.remaining_items) == (1, 2)
    assert 59.0 < second.reset_seconds <= 60.0
    with pytest.raises(RateLimited) as raised:
        await limiter.hit("k1", 3)  # 3 items: over the 2 left
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    other = await limiter.hit("k2", 1)  # keys are counted apart
    assert other is not None and other.remaining_requests == 2


async def test_both_paths_give_the_same_states(redis_url: str, redis_prefix: str) -> None:
    states = []
    for pipelined in PIPELINED:
        made = KeyRateLimiter(redis_url, f"{redis_prefix}{pipelined}", "10/minute", "20/minute",
                              pipelined=pipelined)  # fmt: skip
        seen = [await made.hit("k", cost) for cost in (1, 4, 2)]
        states.append([(s.remaining_requests, s.remaining_items) for s in seen if s])
        await made.storage.bridge.get_connection().aclose()
    assert states[0] == states[1] == [(9, 19), (8, 15), (7, 13)]


async def test_pipeline_recovers_when_redis_lost_its_scripts(
    redis_url: str, redis_prefix: str
) -> None:
    made = KeyRateLimiter(redis_url, redis_prefix + "rl", "3/minute", "5/minute")
    assert made.pipeline is not None
    client = made.storage.bridge.get_connection()
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


def _bytes(script: str | bytes) -> bytes:
    return script.encode() if isinstance(script, str) else script
