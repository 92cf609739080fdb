"""Every Lua script touches only the keys it declares in KEYS, and they share one hash slot,
so each script can run on one Redis Cluster node.

Each script runs instrumented: its `redis.call`s are recorded (command and arguments) and
returned with its reply. Redis itself then says which arguments of each recorded command are
keys (COMMAND GETKEYS), and those must be among the KEYS the script was given. The ledger and
the rate limiter are driven through every branch of their scripts; a script no scenario ran
fails the test, so a new script cannot slip past it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.cluster import key_slot

from vendor_service.errors import AuthError, BudgetError, RateLimited, RequestRejected
from vendor_service.metering import Ledger, Reservation, reap_expired
from vendor_service.metering.rate_limits import STRATEGIES, KeyRateLimiter

SCRIPTS = {
    path.name.removesuffix(".lua")
    for path in resources.files("vendor_service.metering").joinpath("scripts").iterdir()
    if path.name.endswith(".lua")
}


def instrumented(source: str) -> str:
    """The script, its body wrapped so that it returns {reply, JSON of every redis.call}."""
    assert "redis.pcall" not in source  # not recorded below
    body = source.replace("redis.call(", "__record(")
    return (
        "local __calls = {}\n"
        "local function __record(...)\n"
        "  __calls[#__calls + 1] = {...}\n"
        "  return redis.call(...)\n"
        "end\n"
        f"local function __body()\n{body}\nend\n"
        "local __reply = __body()\n"
        "return {__reply, cjson.encode(__calls)}\n"
    )


@dataclass
class Run:
    script: str
    declared: list[str]
    calls: list[list[str]]


@dataclass
class RecordingScript:
    """Stands in for a registered script: runs the instrumented source, keeps what it did."""

    name: str
    source: str
    client: aioredis.Redis
    runs: list[Run] = field(default_factory=list)

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        reply, calls = await self.client.eval(instrumented(self.source), len(keys), *keys, *args)
        self.runs.append(Run(self.name, [str(k) for k in keys], json.loads(calls)))
        return reply


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    made = aioredis.from_url(redis_url)
    yield made
    await made.aclose()


def record(client: aioredis.Redis, name: str, source: str | bytes | memoryview) -> RecordingScript:
    text = source if isinstance(source, str) else bytes(source).decode()
    return RecordingScript(name, text, client)


async def drive_ledger(ledger: Ledger) -> None:
    """Every branch of reserve, commit, refund, reap and topup."""
    key = await ledger.create_key("keys", 100)
    held = await ledger.reserve(key.key_id, 10, 1, 0)  # no Idempotency-Key
    assert isinstance(held, Reservation)
    await ledger.commit(held, b"h", b"t")
    held = await ledger.reserve(key.key_id, 10, 1, 0, "idem", "fp")
    assert isinstance(held, Reservation)
    with pytest.raises(RequestRejected):
        await ledger.reserve(key.key_id, 10, 1, 0, "idem", "fp")  # in progress
    await ledger.commit(held, b"h", b"t")
    await ledger.reserve(key.key_id, 10, 1, 0, "idem", "fp")  # replay
    with pytest.raises(RequestRejected):
        await ledger.reserve(key.key_id, 10, 1, 0, "idem", "other")  # reused
    held = await ledger.reserve(key.key_id, 10, 1, 0, "idem-2", "fp")
    assert isinstance(held, Reservation)
    assert await ledger.refund(held)
    assert not await ledger.refund(held)
    short = Ledger(ledger.client, ledger.prefix, lease_seconds=0.05)
    short._scripts = ledger._scripts
    dying = await short.reserve(key.key_id, 10, 1, 0, "idem-3", "fp")
    assert isinstance(dying, Reservation)
    await asyncio.sleep(0.1)
    assert await reap_expired(ledger) == 1
    await ledger.reserve(key.key_id, 10, 1, 0, "idem-3", "fp")  # its pending record is free
    with pytest.raises(BudgetError):
        await ledger.reserve(key.key_id, 1000, 100, 0)
    await ledger.topup(key.key_id, 5)
    with pytest.raises(RequestRejected):
        await ledger.topup("ffffffffffff", 5)
    await ledger.revoke(key.key_id)
    with pytest.raises(AuthError):
        await ledger.reserve(key.key_id, 1, 0, 1)
    with pytest.raises(AuthError):
        await ledger.reserve("000000000000", 1, 0, 1)


async def drive_limiters(client: aioredis.Redis, prefix: str) -> list[RecordingScript]:
    recorders = []
    for strategy in STRATEGIES:
        limiter = KeyRateLimiter(client, prefix, "2/minute", "3/minute", strategy=strategy)
        recorder = record(client, STRATEGIES[strategy].script, limiter.script.script)
        limiter.script = recorder  # type: ignore[assignment]
        recorders.append(recorder)
        await limiter.hit("0123456789ab", 2)
        with pytest.raises(RateLimited):
            await limiter.hit("0123456789ab", 2)
    return recorders


KEYLESS = {"TIME"}  # commands our scripts call that take no key (COMMAND GETKEYS refuses them)


def keys_of(sync: redis.Redis, command: list[str]) -> list[str]:
    """The arguments of `command` that Redis says are keys."""
    if command[0].upper() in KEYLESS:
        return []
    keys = sync.command_getkeys(*command)
    return [k.decode() if isinstance(k, bytes) else str(k) for k in keys]


async def test_every_script_touches_only_declared_keys_of_one_slot(
    client: aioredis.Redis, redis_url: str, redis_prefix: str
) -> None:
    ledger = Ledger(client, redis_prefix)
    recorders = [record(client, name, script.script) for name, script in ledger._scripts.items()]
    ledger._scripts = {recorder.name: recorder for recorder in recorders}  # type: ignore[misc]
    await drive_ledger(ledger)
    recorders += await drive_limiters(client, redis_prefix)
    runs = [run for recorder in recorders for run in recorder.runs]
    assert {run.script for run in runs} == SCRIPTS  # every script was exercised

    sync = redis.Redis.from_url(redis_url)
    try:
        for run in runs:
            assert len({key_slot(k.encode()) for k in run.declared}) == 1, run.declared
            for call in run.calls:
                touched = keys_of(sync, [str(part) for part in call])
                undeclared = set(touched) - set(run.declared)
                assert not undeclared, f"{run.script}.lua touched {undeclared} via {call[0]}"
    finally:
        sync.close()


def test_the_instrumentation_sees_an_undeclared_key(redis_url: str, redis_prefix: str) -> None:
    """The check can fail: a script that reads a key it was not given is caught."""
    sync = redis.Redis.from_url(redis_url)
    try:
        source = "return redis.call('GET', ARGV[1])"
        _, calls = sync.eval(instrumented(source), 0, redis_prefix + "undeclared")
        touched = keys_of(sync, [str(part) for part in json.loads(calls)[0]])
        assert touched == [redis_prefix + "undeclared"]
    finally:
        sync.close()
