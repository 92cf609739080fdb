"""Every rate-limit hit and window read of one request in a single Redis round trip.

`limits` makes one round trip per call: a request with a requests limit and an items limit
costs four (two hits, then two window reads for the headers). Here the same four calls, with
`limits`' own Lua scripts and key names, go down one pipeline: hits first, then window reads,
in that order on one connection. Same keys, same scripts, same answers; only the round trips
are shared. Two strategies have a pipelined form:

- `sliding-window-counter` (the default): two counters per limit, O(1) work in Redis;
- `moving-window`: exact, but its scripts walk a list as long as the limit.

It needs the redis-py bridge of `limits.aio.storage.RedisStorage`; `window_pipeline` returns
None for anything else (or for `fixed-window`) and the caller makes the calls one at a time
through `limits`' public API.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.util import WindowStats
from redis.exceptions import NoScriptError

from vendor_service.metering.script_pipeline import ScriptPipeliner

Limits = Sequence[tuple[RateLimitItem, int]]  # (limit, cost of this request against it)


class WindowPipeline:
    """hit(limit, cost) for each limit, then get_window_stats for each, in one round trip.

    A strategy supplies its two scripts, the keys and arguments of each call, and how a
    window read becomes `WindowStats`."""

    def __init__(
        self, bridge: Any, acquire: Any, window: Any, pipeliner: ScriptPipeliner | None = None
    ) -> None:
        self.bridge = bridge
        self.acquire = acquire
        self.window = window
        # Given: the calls join those of other requests in their turn, one round trip for all.
        self.pipeliner = pipeliner

    def keys(self, item: RateLimitItem, key_id: str) -> list[str]:
        raise NotImplementedError

    def hit_args(self, item: RateLimitItem, cost: int, now: float) -> list[Any]:
        raise NotImplementedError

    def window_args(self, item: RateLimitItem, now: float) -> list[Any]:
        raise NotImplementedError

    def stats(self, item: RateLimitItem, reply: Any, now: float) -> WindowStats:
        raise NotImplementedError

    async def hit_and_read(
        self, limits: Limits, key_id: str
    ) -> tuple[list[bool], list[WindowStats]]:
        """Like RateLimiter.hit then .get_window_stats for each limit."""
        keys = [self.keys(item, key_id) for item, _ in limits]
        now = time.time()
        hit_args = [self.hit_args(item, cost, now) for item, cost in limits]
        window_args = [self.window_args(item, now) for item, _ in limits]
        if self.pipeliner is None:
            hits, windows = await self._own_pipeline(keys, hit_args, window_args)
        else:
            hits, windows = await self._shared(self.pipeliner, keys, hit_args, window_args)
        stats = [self.stats(item, w, now) for (item, _), w in zip(limits, windows, strict=True)]
        return [bool(hit) for hit in hits], stats

    async def _own_pipeline(
        self, keys: list[list[str]], hit_args: list[list[Any]], window_args: list[list[Any]]
    ) -> tuple[list[Any], list[Any]]:
        """This request's hits, then its window reads, in one pipeline of its own."""
        pipe = self.bridge.get_connection().pipeline(transaction=False)
        for key, args in zip(keys, hit_args, strict=True):
            pipe.evalsha(self.acquire.sha, len(key), *key, *args)
        for key, args in zip(keys, window_args, strict=True):
            pipe.evalsha(self.window.sha, len(key), *key, *args)
        replies = await pipe.execute(raise_on_error=False)
        hits, windows = replies[: len(keys)], replies[len(keys) :]
        if any(isinstance(reply, NoScriptError) for reply in replies):
            # Scripts flushed from Redis: redo only the hits that did not run (the script
            # objects reload themselves), then read every window again, after them.
            for index, reply in enumerate(hits):
                if isinstance(reply, NoScriptError):
                    hits[index] = await self.acquire(keys=keys[index], args=hit_args[index])
            windows = [
                await self.window(keys=key, args=args)
                for key, args in zip(keys, window_args, strict=True)
            ]
        for reply in [*hits, *windows]:
            if isinstance(reply, Exception):
                raise reply
        return hits, windows

    async def _shared(
        self,
        pipeliner: ScriptPipeliner,
        keys: list[list[str]],
        hit_args: list[list[Any]],
        window_args: list[list[Any]],
    ) -> tuple[list[Any], list[Any]]:
        """The same calls queued in order, hits before reads, with the other calls of this
        turn; a script Redis lost is loaded and run again in that order (ScriptPipeliner)."""
        run = pipeliner.run
        calls = [run(self.acquire, key, args) for key, args in zip(keys, hit_args, strict=True)]
        calls += [run(self.window, key, a) for key, a in zip(keys, window_args, strict=True)]
        replies = await asyncio.gather(*calls)
        return replies[: len(keys)], replies[len(keys) :]


class MovingWindowPipeline(WindowPipeline):
    def keys(self, item: RateLimitItem, key_id: str) -> list[str]:
        return [self.bridge.prefixed_key(item.key_for(key_id))]

    def hit_args(self, item: RateLimitItem, cost: int, now: float) -> list[Any]:
        return [now, item.amount, item.get_expiry(), cost]

    def window_args(self, item: RateLimitItem, now: float) -> list[Any]:
        return [now - item.get_expiry(), item.amount]

    def stats(self, item: RateLimitItem, reply: Any, now: float) -> WindowStats:
        """The reply of limits' moving_window.lua, as get_window_stats reads it."""
        start, count = (float(reply[0]), int(reply[1])) if reply else (now, 0)
        return WindowStats(start + item.get_expiry(), item.amount - count)


class SlidingWindowPipeline(WindowPipeline):
    def __init__(
        self, storage: RedisStorage, bridge: Any, pipeliner: ScriptPipeliner | None = None
    ) -> None:
        acquire, window = bridge.lua_acquire_sliding_window, bridge.lua_sliding_window
        super().__init__(bridge, acquire, window, pipeliner)
        self.storage = storage

    def keys(self, item: RateLimitItem, key_id: str) -> list[str]:
        key = item.key_for(key_id)
        previous = self.storage._previous_window_key(key)  # limits' own key names
        current = self.storage._current_window_key(key)
        return [self.bridge.prefixed_key(previous), self.bridge.prefixed_key(current)]

    def hit_args(self, item: RateLimitItem, cost: int, now: float) -> list[Any]:
        return [item.amount, item.get_expiry(), cost]

    def window_args(self, item: RateLimitItem, now: float) -> list[Any]:
        return [item.get_expiry()]

    def stats(self, item: RateLimitItem, reply: Any, now: float) -> WindowStats:
        """The reply of limits' sliding_window.lua, as get_window_stats reads it."""
        previous, previous_ttl, current, current_ttl = _sliding_counts(reply)
        expiry = item.get_expiry()
        weighted = previous * previous_ttl / expiry + current
        remaining = max(0, item.amount - math.floor(weighted))
        if not (previous or current):
            return WindowStats(now, remaining)
        previous_reset = previous_ttl % (expiry / previous) if previous else math.inf
        current_reset = current_ttl % expiry if current else math.inf
        return WindowStats(now + min(previous_reset, current_reset), remaining)


def _sliding_counts(reply: Any) -> tuple[int, float, int, float]:
    """(previous count, its seconds to live, current count, its seconds to live)."""
    if not reply:
        return 0, 0.0, 0, 0.0
    return (
        int(reply[0] or 0),
        max(0.0, float(reply[1] or 0)) / 1000,
        int(reply[2] or 0),
        max(0.0, float(reply[3] or 0)) / 1000,
    )


_NEEDED = {
    "moving-window": ("lua_acquire_moving_window", "lua_moving_window"),
    "sliding-window-counter": ("lua_acquire_sliding_window", "lua_sliding_window"),
}


def window_pipeline(
    storage: RedisStorage, strategy: str, pipeliner: ScriptPipeliner | None = None
) -> WindowPipeline | None:
    """The pipelined form of `strategy` on `storage`, or None where there is none; with a
    `pipeliner` (whose client reaches the same Redis) its calls share it."""
    bridge = getattr(storage, "bridge", None)
    if strategy not in _NEEDED:
        return None
    needed = (*_NEEDED[strategy], "prefixed_key", "get_connection")
    if bridge is None or not all(hasattr(bridge, name) for name in needed):
        return None
    if not hasattr(bridge.get_connection(), "pipeline"):
        return None
    if strategy == "moving-window":
        return MovingWindowPipeline(
            bridge, bridge.lua_acquire_moving_window, bridge.lua_moving_window, pipeliner
        )
    return SlidingWindowPipeline(storage, bridge, pipeliner)
