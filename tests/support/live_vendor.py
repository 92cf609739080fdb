"""A live vendor process on loopback, for tests that must cross the real wire.

Starts `python -m vendor_service serve` as a subprocess (tiny random model, real Redis on the
test's own key prefix), waits for /readyz, and offers the admin calls tests need.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
TINY_MODEL = "tiny-clip-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveVendor:
    base_url: str
    admin_token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def admin(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def create_key(self, budget: int, name: str = "test") -> tuple[str, str]:
        """Returns (key_id, api_key)."""
        with self.admin() as client:
            response = client.post("/v1/admin/keys", json={"name": name, "budget": budget})
            response.raise_for_status()
            body = response.json()
        return body["key_id"], body["api_key"]

    def key_info(self, key_id: str) -> dict[str, Any]:
        with self.admin() as client:
            response = client.get(f"/v1/admin/keys/{key_id}")
            response.raise_for_status()
            return dict(response.json())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def vendor_env(
    redis_url: str, prefix: str, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "REDIS_URL": redis_url,
        "VENDOR_REDIS_PREFIX": prefix,
        "VENDOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "VENDOR_MODEL": TINY_MODEL,
        "VENDOR_PRETRAINED": "random",
        "OMP_NUM_THREADS": "1",
    }
    env.update(overrides or {})
    return env


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    from client_trainer.simulation.local_vendor import stop_process as stop

    stop(process, grace)


def wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    """Until /readyz answers 200: a vendor on a loaded 2-core machine may take minutes."""
    from client_trainer.simulation.local_vendor import wait_ready as poll_ready

    poll_ready(base_url, process, None, timeout)


@contextmanager
def live_vendor(
    redis_url: str, prefix: str, log_dir: Path, overrides: dict[str, str] | None = None
) -> Iterator[LiveVendor]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"vendor-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vendor_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=vendor_env(redis_url, prefix, overrides),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base_url, process)
            yield LiveVendor(base_url, ADMIN_TOKEN, process, log_path)
        finally:
            stop_process(process, grace=15)


@contextmanager
def live_vendor_replicas(
    redis_url: str,
    prefix: str,
    log_dir: Path,
    count: int = 2,
    overrides: dict[str, str] | None = None,
    launcher: tuple[str, ...] = (),
    admin_token: str = ADMIN_TOKEN,
) -> Iterator[list[LiveVendor]]:
    """`count` vendor processes on their own loopback ports sharing one Redis ledger (`prefix`).

    They start together (their model loads overlap) and all are ready before this yields.
    The command is the one every container runs (client_trainer.simulation.commands), run
    through `launcher` when given (e.g. the images' entrypoint); `admin_token` is the token the
    processes end up with when the overrides supply it some other way than the default.
    """
    from client_trainer.simulation import commands

    env = vendor_env(redis_url, prefix, overrides)
    started: list[LiveVendor] = []
    logs = []
    try:
        for _ in range(count):
            port = free_port()
            log_path = log_dir / f"vendor-{port}.log"
            logs.append(log_path.open("wb"))
            serve = commands.vendor_serve("127.0.0.1", port)
            argv = [*launcher, *commands.with_interpreter(serve, sys.executable)]
            process = subprocess.Popen(
                argv, cwd=REPO_ROOT, env=env, stdout=logs[-1], stderr=subprocess.STDOUT
            )
            base_url = f"http://127.0.0.1:{port}"
            started.append(LiveVendor(base_url, admin_token, process, log_path))
        for replica in started:
            wait_ready(replica.base_url, replica.process)
        yield started
    finally:
        for replica in started:
            replica.process.terminate()
        for replica in started:
            try:
                replica.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()
        for log_file in logs:
            log_file.close()
