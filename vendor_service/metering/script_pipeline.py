"""The sale's Redis scripts called in one event-loop turn go to Redis together, as one pipeline.

The sale path's round trips are all Lua scripts (`scripts/*.lua`): the rate limits' count, the
ledger's reserve, commit and refund. They bunch up in time: one forward pass answers every
request of its batch at once, so their commits are all called in the same turn of the event
loop, and the callers, answered together, send their next requests together, whose rate
limits are then checked together. Sent one by one, each call checks a connection out of the
pool, writes, wakes the loop for its reply and parses it. Here the calls of one turn are
queued in order, and right after the turn one task sends them down one connection as a
pipeline (no MULTI: each script is atomic on its own, and none depends on another's reply):
one write, one read. One pipeliner serves the ledger and the rate limiter, which share one
client and its connection pool; `run_script` sends a call through it, or alone without one.

Each caller still gets its own script's reply or error. A script that Redis has lost
(a restart, SCRIPT FLUSH) did not run: it is sent again through its `Script`, which loads it.
Lost scripts run again in the order they were queued. A broken connection fails every call of
the pipeline, as it would have failed each of them alone. A lone call in a turn is sent on
its own, by its `Script`. A call whose caller left (cancelled) before the send is not sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError


def load_script(name: str) -> str:
    """The source of `scripts/<name>.lua`, shipped with this package."""
    return resources.files("vendor_service.metering").joinpath(f"scripts/{name}.lua").read_text()


async def run_script(
    script: AsyncScript,
    keys: Sequence[Any],
    args: Sequence[Any],
    pipeliner: ScriptPipeliner | None = None,
) -> Any:
    """The script's reply: with the other calls of this turn through `pipeliner`, or alone."""
    if pipeliner is None:
        return await script(keys=keys, args=args)
    return await pipeliner.run(script, keys, args)


@dataclass(frozen=True)
class _Call:
    script: AsyncScript
    keys: Sequence[Any]
    args: Sequence[Any]
    reply: asyncio.Future[Any]


class ScriptPipeliner:
    """`run(script, keys, args)`: the script's reply, sent with the other calls of this turn."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._queued: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()  # strong references until done

    def run(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        """The reply, to await. The first call of a turn schedules the send."""
        loop = asyncio.get_running_loop()
        if not self._queued:
            loop.call_soon(self._send_queued)
        call = _Call(script, keys, args, loop.create_future())
        self._queued.append(call)
        return call.reply

    def _send_queued(self) -> None:
        calls, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(calls))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[_Call]) -> None:
        calls = [call for call in calls if not call.reply.cancelled()]  # callers that left
        if not calls:
            return
        if len(calls) == 1:
            await _answer(calls[0], self._alone(calls[0]))
            return
        pipe = self.client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # noqa: BLE001 - every caller gets the error, none hangs
            for call in calls:
                _settle(call.reply, exc)
            return
        for call, reply in zip(calls, replies, strict=True):
            if isinstance(reply, NoScriptError):  # it did not run: load it, run it again
                await _answer(call, self._alone(call))
            else:
                _settle(call.reply, reply)

    async def _alone(self, call: _Call) -> Any:
        return await call.script(keys=call.keys, args=call.args)


async def _answer(call: _Call, reply: Any) -> None:
    try:
        _settle(call.reply, await reply)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
        _settle(call.reply, exc)


def _settle(future: asyncio.Future[Any], reply: Any) -> None:
    """The caller's reply (an exception is raised in the caller); a caller that left (its
    future cancelled) gets nothing: the script ran or not, as it would have for it alone."""
    if future.done():
        return
    if isinstance(reply, BaseException):
        future.set_exception(reply)
    else:
        future.set_result(reply)
