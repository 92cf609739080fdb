"""LuaScript: EVALSHA first, and the script loaded again after Redis forgot it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from vendor_service.ledger.lua import LuaScript

SOURCE = "return {redis.call('incrby', KEYS[1], ARGV[1]), ARGV[2]}"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_runs_with_keys_and_args(client: aioredis.Redis, redis_prefix: str) -> None:
    script = LuaScript(client, SOURCE)
    await client.script_load(SOURCE)
    assert await script([f"{redis_prefix}n"], [5, "x"]) == [5, b"x"]
    assert await script([f"{redis_prefix}n"], [2, "y"]) == [7, b"y"]
    assert script.sha == await client.script_load(SOURCE)


async def test_reloads_after_the_script_cache_is_flushed(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    script = LuaScript(client, SOURCE)
    await client.script_flush()
    assert await client.script_exists(script.sha) == [False]
    assert await script([f"{redis_prefix}n"], [3, "z"]) == [3, b"z"]
    assert await client.script_exists(script.sha) == [True]


async def test_a_script_error_is_raised_not_retried(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    script = LuaScript(client, "return redis.error_reply('ledger says no')")
    with pytest.raises(aioredis.ResponseError, match="ledger says no"):
        await script([f"{redis_prefix}n"], [])
