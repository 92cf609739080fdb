"""KeyRateLimiter on a real Redis and a Redis Cluster, for each strategy, with its one script
call per request sent alone or shared with other requests' calls through a ScriptPipeliner."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import get_args

import pytest
from redis.cluster import key_slot

from shared.redis_connection import AsyncRedis, connect_async
from tests.support.redis import PipelineRecorder
from vendor_service.errors import RateLimited
from vendor_service.metering.rate_limits import (
    STRATEGIES,
    KeyRateLimiter,
    RateLimit,
    parse_rate,
)
from vendor_service.metering.script_pipeline import ScriptPipeliner
from vendor_service.settings import Settings

MODES = ["alone", "shared"]
CASES = [(strategy, mode) for strategy in STRATEGIES for mode in MODES]


@pytest.fixture
async def client(each_redis_url: str) -> AsyncIterator[AsyncRedis]:
    made = connect_async(each_redis_url)
    yield made
    await made.aclose()


@pytest.fixture
def redis_prefix(each_redis_prefix: str) -> str:
    return each_redis_prefix


@pytest.fixture
def pipeliner(client: AsyncRedis) -> ScriptPipeliner:
    return ScriptPipeliner(client)


def make_limiter(
    client: AsyncRedis,
    prefix: str,
    mode: str,
    strategy: str,
    pipeliner: ScriptPipeliner,
    requests: str = "3/minute",
    items: str = "5/minute",
) -> KeyRateLimiter:
    """`mode` says how its calls reach Redis: alone, or shared with other requests' calls
    through `pipeliner`."""
    return KeyRateLimiter(
        client, prefix, requests, items, strategy=strategy,
        pipeliner=pipeliner if mode == "shared" else None,
    )  # fmt: skip


@pytest.fixture(params=CASES, ids=lambda case: f"{case[0]}-{case[1]}")
def limiter(
    request: pytest.FixtureRequest,
    client: AsyncRedis,
    redis_prefix: str,
    pipeliner: ScriptPipeliner,
) -> KeyRateLimiter:
    strategy, mode = request.param
    return make_limiter(client, redis_prefix, mode, strategy, pipeliner)


async def test_headers_count_down_then_429(limiter: KeyRateLimiter) -> None:
    first = await limiter.hit("k1", 2)
    second = await limiter.hit("k1", 1)
    assert first is not None and second is not None
    assert (first.limit_requests, first.limit_items) == (3, 5)
    assert (first.remaining_requests, first.remaining_items) == (2, 3)
    assert (second.remaining_requests, second.remaining_items) == (1, 2)
    if limiter.strategy_name == "moving-window":  # the oldest unit leaves a minute after it came
        assert 59.0 < second.reset_seconds <= 60.0
    else:  # the sliding window's reset is a TTL modulo the window: 0 on the millisecond edge
        assert 0.0 <= second.reset_seconds <= 60.0
    with pytest.raises(RateLimited) as raised:
        await limiter.hit("k1", 3)  # 3 items: over the 2 left
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    other = await limiter.hit("k2", 1)  # keys are counted apart
    assert other is not None and other.remaining_requests == 2


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_every_path_gives_the_same_states(
    client: AsyncRedis, redis_prefix: str, strategy: str, pipeliner: ScriptPipeliner
) -> None:
    states, resets = [], []
    for mode in MODES:
        made = make_limiter(client, f"{redis_prefix}{mode}:", mode, strategy, pipeliner,
                            "10/minute", "20/minute")  # fmt: skip
        seen = [await made.hit("k", cost) for cost in (1, 4, 2)]
        states.append([(s.remaining_requests, s.remaining_items) for s in seen if s])
        resets.append([s.reset_seconds for s in seen if s])
    assert states == [[(9, 19), (8, 15), (7, 13)]] * len(MODES)
    assert all(0.0 <= r <= 60.0 for seen in resets for r in seen)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_requests_of_one_turn_share_one_round_trip(
    client: AsyncRedis, redis_prefix: str, strategy: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(client, redis_prefix, "shared", strategy, pipeliner)
    await made.hit("warm", 1)  # script loaded: the pipeline's case
    recorder = PipelineRecorder(client)
    states = await asyncio.gather(made.hit("a", 1), made.hit("a", 2), made.hit("b", 1))
    assert recorder.sizes == [3]  # three requests, one call each: every limit in one script
    assert [(s.remaining_requests, s.remaining_items) for s in states if s] == [
        (2, 4), (1, 2), (2, 4)
    ]  # fmt: skip
    with pytest.raises(RateLimited):  # "a" has 2 items of 5 left
        await made.hit("a", 3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_a_script_redis_lost_is_loaded_and_counts_once(
    client: AsyncRedis, redis_prefix: str, strategy: str, mode: str,
    pipeliner: ScriptPipeliner,
) -> None:  # fmt: skip
    made = make_limiter(client, redis_prefix, mode, strategy, pipeliner)
    # A script Redis has never seen stands for one lost to a SCRIPT FLUSH: NOSCRIPT replies.
    salt = f"\n-- {secrets.token_hex(8)}".encode()
    made.script = client.register_script(_bytes(made.script.script) + salt)
    state = await made.hit("k", 2)
    assert state is not None
    assert (state.remaining_requests, state.remaining_items) == (2, 3)  # counted exactly once
    state = await made.hit("k", 1)  # now loaded
    assert state is not None and (state.remaining_requests, state.remaining_items) == (1, 2)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_a_window_that_passed_admits_again(
    client: AsyncRedis, redis_prefix: str, strategy: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(client, redis_prefix, "alone", strategy, pipeliner, "2/second", "")
    await made.hit("k", 1)
    await made.hit("k", 1)
    with pytest.raises(RateLimited) as raised:
        await made.hit("k", 1)
    assert raised.value.retry_after == 1
    time.sleep(1.05)  # the window's time passing: counters expire or fade, by Redis' clock
    state = await made.hit("k", 1)
    assert state is not None and state.remaining_requests >= 0


async def test_the_sliding_window_weights_the_previous_one(
    client: AsyncRedis, redis_prefix: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(client, redis_prefix, "alone", "sliding-window-counter", pipeliner,
                        "", "4/second")  # fmt: skip
    await made.hit("k", 4)
    previous, current = made.keys("k", "items")
    # 1.25 s on, by the counter's clock: it was made to live two windows (2 s), 0.75 s remain.
    await client.pexpire(current, 750)
    with pytest.raises(RateLimited):  # the previous window's 4 still weigh 4 * 0.75 = 3
        await made.hit("k", 4)
    state = await made.hit("k", 1)
    assert state is not None and state.remaining_items in (0, 1)  # 4 - (3 + 1), ms passing
    assert int(await client.get(previous) or 0) == 4
    assert int(await client.get(current) or 0) == 1  # counted in the new window


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_every_key_is_declared_and_shares_the_api_keys_hash_tag(
    client: AsyncRedis, redis_prefix: str, strategy: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(client, redis_prefix, "alone", strategy, pipeliner)
    key_id = "0123456789ab"
    await made.hit(key_id, 2)
    await made.hit(key_id, 1)
    declared = made.keys(key_id, "requests") + made.keys(key_id, "items")
    written = {key.decode() async for key in client.scan_iter(match=f"{redis_prefix}*")}
    assert written <= set(declared)  # the script wrote no key it was not given
    assert written  # and it wrote some
    assert all(f"{{{key_id}}}" in key for key in declared)
    assert len({key_slot(key.encode()) for key in declared}) == 1  # one Redis Cluster slot
    assert key_slot(f"{{{key_id}}}".encode()) == key_slot(declared[0].encode())


async def test_no_limits_counts_nothing(
    client: AsyncRedis, redis_prefix: str, pipeliner: ScriptPipeliner
) -> None:
    made = make_limiter(client, redis_prefix, "alone", "sliding-window-counter", pipeliner,
                        "", "")  # fmt: skip
    assert await made.hit("k", 5) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000/second", RateLimit(1000, 1)),
        ("20000/second", RateLimit(20000, 1)),
        ("3/minute", RateLimit(3, 60)),
        ("100 per 10 minutes", RateLimit(100, 600)),
        ("5/2 Hours", RateLimit(5, 7200)),
        (" 7 per day ", RateLimit(7, 86_400)),
        ("1/month", RateLimit(1, 30 * 86_400)),
    ],
)
def test_rates_are_read_in_limits_notation(text: str, expected: RateLimit) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text", ["lots", "10", "10/fortnight", "/second", "1/second;5/minute", "10/0 seconds"]
)
def test_an_unreadable_rate_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def _bytes(script: str | bytes | memoryview) -> bytes:
    return script.encode() if isinstance(script, str) else bytes(script)


def test_every_strategy_setting_has_a_limiter() -> None:
    annotation = Settings.model_fields["rate_limit_strategy"].annotation
    assert set(get_args(annotation)) == set(STRATEGIES)
