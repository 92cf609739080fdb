"""Every rate-limit hit and window read of one request in a single Redis round trip.

`limits`' moving-window strategy makes one round trip per call: a request with a requests
limit and an items limit costs four (two hits, then two window reads for the headers). Here
the same four calls, with `limits`' own Lua scripts and key names, go down one pipeline:
hits first, then window reads, in that order on one connection. Same keys, same scripts,
same answers; only the round trips are shared. It needs the redis-py bridge of
`limits.aio.storage.RedisStorage`; `window_pipeline` returns None for anything else and the
caller makes the calls one at a time through `limits`' public API.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.util import WindowStats
from redis.exceptions import NoScriptError


class WindowPipeline:
    """hit(limit, cost) for each limit, then get_window_stats for each, in one round trip."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge
        self.acquire = bridge.lua_acquire_moving_window
        self.window = bridge.lua_moving_window

    async def hit_and_read(
        self, limits: Sequence[tuple[RateLimitItem, int]], key_id: str
    ) -> tuple[list[bool], list[WindowStats]]:
        """Like MovingWindowRateLimiter.hit then .get_window_stats for each limit."""
        keys = [self.bridge.prefixed_key(item.key_for(key_id)) for item, _ in limits]
        now = time.time()
        hit_args = [[now, item.amount, item.get_expiry(), cost] for item, cost in limits]
        window_args = [[now - item.get_expiry(), item.amount] for item, _ in limits]
        pipe = self.bridge.get_connection().pipeline(transaction=False)
        for key, args in zip(keys, hit_args, strict=True):
            pipe.evalsha(self.acquire.sha, 1, key, *args)
        for key, args in zip(keys, window_args, strict=True):
            pipe.evalsha(self.window.sha, 1, key, *args)
        replies = await pipe.execute(raise_on_error=False)
        hits, windows = replies[: len(limits)], replies[len(limits) :]
        if any(isinstance(reply, NoScriptError) for reply in replies):
            # Scripts flushed from Redis: redo only the hits that did not run (the script
            # objects reload themselves), then read every window again, after them.
            for index, reply in enumerate(hits):
                if isinstance(reply, NoScriptError):
                    hits[index] = await self.acquire(keys=[keys[index]], args=hit_args[index])
            windows = [
                await self.window(keys=[key], args=args)
                for key, args in zip(keys, window_args, strict=True)
            ]
        for reply in [*hits, *windows]:
            if isinstance(reply, Exception):
                raise reply
        stats = [_stats(item, w, now) for (item, _), w in zip(limits, windows, strict=True)]
        return [bool(hit) for hit in hits], stats


def _stats(item: RateLimitItem, window: Any, now: float) -> WindowStats:
    """The reply of limits' moving_window.lua -> WindowStats, as get_window_stats builds it."""
    start, count = (float(window[0]), int(window[1])) if window else (now, 0)
    return WindowStats(start + item.get_expiry(), item.amount - count)


def window_pipeline(storage: RedisStorage) -> WindowPipeline | None:
    bridge = getattr(storage, "bridge", None)
    needed = ("lua_acquire_moving_window", "lua_moving_window", "prefixed_key", "get_connection")
    if bridge is None or not all(hasattr(bridge, name) for name in needed):
        return None
    if not hasattr(bridge.get_connection(), "pipeline"):
        return None
    return WindowPipeline(bridge)
