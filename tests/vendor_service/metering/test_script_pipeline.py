"""ScriptPipeliner against a real Redis and a Redis Cluster: the calls of one turn share a
pipeline (on a cluster, one per node), each caller still gets exactly its own reply or error,
and a call that asks for replicas is answered after WAIT."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from shared.redis_connection import AsyncRedis, connect_async
from tests.support.redis import PipelineRecorder
from vendor_service.metering.replication import ReplicaWait
from vendor_service.metering.script_pipeline import ScriptPipeliner, run_script

# Adds ARGV[1] to a counter and answers with its own argument: each caller can tell its reply,
# and the counter shows how often a script ran. ARGV[1] == "fail" raises inside Redis.
_COUNT = """
if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
redis.call('INCRBY', KEYS[1], 1)
return ARGV[1]
"""


@pytest.fixture
async def client(each_redis_url: str) -> AsyncIterator[AsyncRedis]:
    made = connect_async(each_redis_url)
    yield made
    await made.aclose()


@pytest.fixture
def redis_prefix(each_redis_prefix: str) -> str:
    return each_redis_prefix


async def loaded_script(client: AsyncRedis, prefix: str) -> AsyncScript:
    """The counting script, run once so Redis has it: the pipeline's own case."""
    script = client.register_script(_COUNT)
    await script(keys=[prefix + "warm"], args=["warm"])
    return script


def unseen_script(client: AsyncRedis) -> AsyncScript:
    """A script Redis has never loaded: it stands for one lost to a restart or SCRIPT FLUSH."""
    return client.register_script(_COUNT + f"-- {secrets.token_hex(8)}\n")


async def test_calls_of_one_turn_share_one_pipeline(client: AsyncRedis, redis_prefix: str) -> None:
    recorder = PipelineRecorder(client)
    script = await loaded_script(client, redis_prefix)
    pipeliner = ScriptPipeliner(client)
    counter = redis_prefix + "n"
    replies = await asyncio.gather(
        *(pipeliner.run(script, [counter], [f"caller-{i}"]) for i in range(8))
    )
    assert replies == [f"caller-{i}".encode() for i in range(8)]
    assert recorder.sizes == [8]
    assert await client.get(counter) == b"8"


async def test_a_lone_call_is_sent_on_its_own(client: AsyncRedis, redis_prefix: str) -> None:
    recorder = PipelineRecorder(client)
    pipeliner = ScriptPipeliner(client)
    script = client.register_script(_COUNT)
    assert await pipeliner.run(script, [redis_prefix + "n"], ["one"]) == b"one"
    assert await pipeliner.run(script, [redis_prefix + "n"], ["two"]) == b"two"
    assert recorder.sizes == []  # two turns, one call each: no pipeline
    assert await client.get(redis_prefix + "n") == b"2"


async def test_an_error_reaches_only_its_own_caller(client: AsyncRedis, redis_prefix: str) -> None:
    script = await loaded_script(client, redis_prefix)
    pipeliner = ScriptPipeliner(client)
    counter = redis_prefix + "n"
    replies = await asyncio.gather(
        *(pipeliner.run(script, [counter], [arg]) for arg in ("a", "fail", "c")),
        return_exceptions=True,
    )
    assert replies[0] == b"a" and replies[2] == b"c"
    assert isinstance(replies[1], ResponseError) and "asked to fail" in str(replies[1])
    assert await client.get(counter) == b"2"


async def test_a_script_redis_lost_runs_exactly_once(client: AsyncRedis, redis_prefix: str) -> None:
    loaded = await loaded_script(client, redis_prefix)
    lost = unseen_script(client)
    pipeliner = ScriptPipeliner(client)
    counter = redis_prefix + "n"
    replies = await asyncio.gather(
        pipeliner.run(lost, [counter], ["lost-1"]),
        pipeliner.run(loaded, [counter], ["loaded"]),
        pipeliner.run(lost, [counter], ["lost-2"]),
    )
    assert replies == [b"lost-1", b"loaded", b"lost-2"]
    assert await client.get(counter) == b"3"  # NOSCRIPT ran nothing; the retries ran once each


async def test_a_broken_connection_fails_every_caller_and_hangs_none() -> None:
    dead = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    script = dead.register_script(_COUNT)
    pipeliner = ScriptPipeliner(dead)
    for callers in (1, 3):  # alone and pipelined
        replies = await asyncio.wait_for(
            asyncio.gather(
                *(pipeliner.run(script, ["k"], [str(i)]) for i in range(callers)),
                return_exceptions=True,
            ),
            timeout=5,
        )
        assert len(replies) == callers
        assert all(isinstance(reply, RedisConnectionError) for reply in replies)
    await dead.aclose()


async def test_a_caller_that_leaves_before_the_send_sends_nothing(
    client: AsyncRedis, redis_prefix: str
) -> None:
    script = await loaded_script(client, redis_prefix)
    pipeliner = ScriptPipeliner(client)
    counter = redis_prefix + "n"

    async def call(arg: str) -> Any:
        return await pipeliner.run(script, [counter], [arg])

    leaving = asyncio.ensure_future(call("leaves"))
    staying = asyncio.ensure_future(call("stays"))
    await asyncio.sleep(0)  # both queued in this turn
    leaving.cancel()
    assert await staying == b"stays"
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await client.get(counter) == b"1"  # it left before the send: never sent


async def test_calls_on_every_node_each_get_their_own_reply(
    client: AsyncRedis, redis_prefix: str
) -> None:
    """Keys spread over every slot range (on a cluster: every node) in one turn."""
    script = await loaded_script(client, redis_prefix)
    pipeliner = ScriptPipeliner(client)
    counters = [f"{redis_prefix}{{{i}}}:n" for i in range(24)]
    replies = await asyncio.gather(
        *(pipeliner.run(script, [counter], [counter]) for counter in counters)
    )
    assert replies == [counter.encode() for counter in counters]
    assert [await client.get(counter) for counter in counters] == [b"1"] * len(counters)


@pytest.mark.parametrize("pipelined", [False, True], ids=["alone", "pipelined"])
async def test_a_call_that_asks_for_replicas_is_answered_after_wait(
    client: AsyncRedis, redis_prefix: str, pipelined: bool
) -> None:
    """On the cluster every master has a replica: WAIT 1 is met. On the one test server
    there is none: WAIT times out, the reply still comes, and the shortfall is reported."""
    script = await loaded_script(client, redis_prefix)
    shortfalls: list[int] = []
    wait = ReplicaWait(1, 50, short=shortfalls.append)
    pipeliner = ScriptPipeliner(client) if pipelined else None
    counters = [f"{redis_prefix}{{{i}}}:n" for i in range(3 if pipelined else 1)]
    replies = await asyncio.gather(
        *(run_script(script, [c], [c], pipeliner, wait) for c in counters)
    )
    assert replies == [counter.encode() for counter in counters]
    replicated = isinstance(client, aioredis.RedisCluster)
    assert shortfalls == ([] if replicated else [0] * len(counters))


async def test_a_node_that_fell_short_is_not_waited_on_again_at_once(
    client: AsyncRedis, redis_prefix: str
) -> None:
    """Without a replica (the one test server) the first write waits and falls short; the next
    one is not waited on (counted as unreplicated at once). With replicas both are waited on."""
    recorder = PipelineRecorder(client)
    script = await loaded_script(client, redis_prefix)
    shortfalls: list[int] = []
    wait = ReplicaWait(1, 20, short=shortfalls.append, retry_seconds=60)
    for i in range(2):
        await run_script(script, [redis_prefix + "n"], [str(i)], None, wait)
    waits = [sum(args[0] == "WAIT" for args in sent) for sent in recorder.sent]
    if isinstance(client, aioredis.RedisCluster):
        assert (waits, shortfalls) == ([1, 1], [])
    else:
        assert (waits, shortfalls) == ([1, 0], [0, 0])
