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

On a Redis Cluster the client's pipeline sends each node its own calls (every script's keys
share one slot, so each call has one node), one write and one read per node, all nodes at
once; a call redirected by MOVED or ASK (a slot moving, a failover) is resent to its new node,
and one that still fails reaches its caller as an error, never as another caller's reply.

A call may ask for replicas (`ReplicaWait`, a commit under VENDOR_REDIS_WAIT_REPLICAS): such
calls go down a pipeline of their own per node, ending with WAIT on the same connection as
their writes, sent at the same time as the turn's other calls, so a slow WAIT holds up only
the calls that asked for it. Their callers are answered once the replicas have the writes
(or the wait timed out, which `ReplicaWait.check` reports).

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

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from shared.redis_connection import AsyncRedis
from vendor_service.metering.replication import ReplicaWait, node_name, queue_wait


def load_script(name: str) -> str:
    """The source of `scripts/<name>.lua`, shipped with this package."""
    return resources.files("vendor_service.metering").joinpath(f"scripts/{name}.lua").read_text()


async def run_script(
    script: AsyncScript,
    keys: Sequence[Any],
    args: Sequence[Any],
    pipeliner: ScriptPipeliner | None = None,
    wait: ReplicaWait | None = None,
) -> Any:
    """The script's reply: with the other calls of this turn through `pipeliner`, or alone;
    with `wait`, once replicas have its writes."""
    if pipeliner is not None:
        return await pipeliner.run(script, keys, args, wait)
    if wait is None:
        return await script(keys=keys, args=args)
    call = _Call(script, keys, args, asyncio.get_running_loop().create_future(), wait)
    await _send_pipeline(script.registered_client, [call])
    return await call.reply


@dataclass(frozen=True)
class _Call:
    script: AsyncScript
    keys: Sequence[Any]
    args: Sequence[Any]
    reply: asyncio.Future[Any]
    wait: ReplicaWait | None = None


class ScriptPipeliner:
    """`run(script, keys, args)`: the script's reply, sent with the other calls of this turn."""

    def __init__(self, client: AsyncRedis) -> None:
        self.client = client
        self._queued: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()  # strong references until done

    def run(
        self,
        script: AsyncScript,
        keys: Sequence[Any],
        args: Sequence[Any],
        wait: ReplicaWait | None = None,
    ) -> asyncio.Future[Any]:
        """The reply, to await. The first call of a turn schedules the send."""
        loop = asyncio.get_running_loop()
        if not self._queued:
            loop.call_soon(self._send_queued)
        call = _Call(script, keys, args, loop.create_future(), wait)
        self._queued.append(call)
        return call.reply

    def _send_queued(self) -> None:
        calls, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(calls))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[_Call]) -> None:
        calls = [call for call in calls if not call.reply.cancelled()]  # callers that left
        if len(calls) == 1 and calls[0].wait is None:
            await _answer(calls[0], _alone(calls[0]))
        elif calls:
            await _send_pipeline(self.client, calls)


@dataclass
class _Group:
    """Calls sent down one pipeline: one node's calls that wait for replicas (`wait` set), or
    every other call of the turn."""

    calls: list[_Call]
    node: str = ""
    wait: ReplicaWait | None = None


async def _send_pipeline(client: AsyncRedis, calls: list[_Call], reload: bool = True) -> None:
    """Send `calls` and settle every caller: one pipeline (per node on a cluster) for the calls
    that wait for no replica, and one per node, WAIT last, for those that do, all at once, so
    a node's WAIT holds up only its own calls. Scripts Redis has lost are loaded and their
    calls sent once more, in the order they were queued."""
    sent = await asyncio.gather(*(_send_group(client, g, reload) for g in _groups(client, calls)))
    lost = sorted((call for group in sent for call in group), key=calls.index)
    if lost:  # they did not run: load them, run them again
        try:
            for source in dict.fromkeys(call.script.script for call in lost):
                await client.script_load(source)
        except Exception as exc:  # noqa: BLE001 - every caller gets the error, none hangs
            for call in lost:
                _settle(call.reply, exc)
            return
        await _send_pipeline(client, lost, reload=False)


def _groups(client: AsyncRedis, calls: list[_Call]) -> list[_Group]:
    plain = _Group([])
    waiting: dict[str, _Group] = {}
    for call in calls:
        node = node_name(client, str(call.keys[0])) if _asks_replicas(call) else ""
        if call.wait is not None and _asks_replicas(call) and call.wait.worth_waiting(node):
            waiting.setdefault(node, _Group([], node, call.wait)).calls.append(call)
        else:
            plain.calls.append(call)
    return [group for group in (plain, *waiting.values()) if group.calls]


async def _send_group(client: AsyncRedis, group: _Group, reload: bool) -> list[_Call]:
    """One pipeline; settles its callers and returns the calls whose script Redis had lost
    (when `reload`), unsettled."""
    calls = group.calls
    try:
        pipe = client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        if group.wait is not None:
            await queue_wait(pipe, client, str(calls[0].keys[0]), group.wait)
        replies = await pipe.execute(raise_on_error=False)
    except Exception as exc:  # noqa: BLE001 - every caller gets the error, none hangs
        for call in calls:
            _settle(call.reply, exc)
        return []
    ran = [not isinstance(reply, Exception) for reply in replies[: len(calls)]]
    if group.wait is not None:
        group.wait.check(replies[-1], group.node, writes=sum(ran))
    for call, done in zip(calls, ran, strict=True):
        if done and call.wait is not None and _asks_replicas(call) and group.wait is None:
            call.wait.unreplicated()  # its node fell short a moment ago: not waited on
    lost = [call for call, reply in zip(calls, replies, strict=False)
            if reload and isinstance(reply, NoScriptError)]  # fmt: skip
    for call, reply in zip(calls, replies, strict=False):
        if call not in lost:
            _settle(call.reply, reply)
    return lost


def _asks_replicas(call: _Call) -> bool:
    return call.wait is not None and call.wait.replicas > 0


async def _alone(call: _Call) -> Any:
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
