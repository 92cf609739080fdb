"""A real Redis for tests: the machine's server when it answers, else an embedded one."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from shared.redis_connection import connect
from shared.redis_server import RedisEndpoint, start_embedded

LOCAL_URL = "redis://127.0.0.1:6379/0"


def find_test_redis() -> RedisEndpoint:
    try:
        client = redis.Redis.from_url(LOCAL_URL, socket_connect_timeout=0.5)
        client.ping()
        client.close()
        return RedisEndpoint(url=LOCAL_URL)
    except redis.RedisError:
        return start_embedded(Path(tempfile.mkdtemp(prefix="test-redis-")))


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under `prefix` (a test's own namespace), on a server or a cluster."""
    client = connect(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


class PipelineRecorder:
    """Records the pipelines an async client sends: the arguments of each command."""

    def __init__(self, client: aioredis.Redis | aioredis.RedisCluster) -> None:
        self.sent: list[list[tuple[Any, ...]]] = []
        self._make = client.pipeline
        client.pipeline = self.pipeline  # type: ignore[method-assign]

    @property
    def sizes(self) -> list[int]:
        return [len(commands) for commands in self.sent]

    def scripts(self, sha: str) -> list[int]:
        """How many calls of the script `sha` each pipeline carried."""
        return [sum(args[:2] == ("EVALSHA", sha) for args in sent) for sent in self.sent]

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self._make(*args, **kwargs)
        execute = pipe.execute

        async def recorded(*a: Any, **k: Any) -> Any:
            self.sent.append(_queued(pipe))
            return await execute(*a, **k)

        pipe.execute = recorded  # type: ignore[method-assign]
        return pipe


def _queued(pipe: Any) -> list[tuple[Any, ...]]:
    """The commands queued in a pipeline, of one server or of a cluster."""
    stack = getattr(pipe, "command_stack", None)
    if stack is not None:
        return [tuple(args) for args, _ in stack]
    return [tuple(command.args) for command in pipe._execution_strategy._command_queue]
