"""A Lua script run with EVALSHA, and loaded again when Redis answers NOSCRIPT.

redis-py's own `AsyncScript.__call__` does the same, but first checks
`isinstance(client, Pipeline)` on every call; `Pipeline` is a `typing.Protocol`, and that
check alone took about 5 % of the event loop's time under one-image load (two scripts per
sale). The ledger's client is never a pipeline, so the check is not needed here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError


class LuaScript:
    def __init__(self, client: aioredis.Redis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:  # the server's script cache was flushed (or it restarted)
            self.sha = await self.client.script_load(self.source)
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
