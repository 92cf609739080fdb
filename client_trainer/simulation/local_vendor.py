"""A vendor process on loopback for the local simulation, and the admin calls it needs.

The client never imports the vendor's code: it starts the vendor's own command as a separate
process, exactly as a container would, and talks to it over HTTP like any other vendor.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from client_trainer.simulation import commands


@dataclass(frozen=True)
class LocalVendor:
    base_url: str
    admin_token: str
    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_vendor_command(argv: list[str], env: dict[str, str]) -> str:
    """Run a one-shot vendor command (e.g. train-vlm) to completion; its log lines go to our
    terminal (so long training shows progress) and its standard output is returned."""
    full = commands.with_interpreter(argv, sys.executable)
    result = subprocess.run(
        full, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=None, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed with exit code {result.returncode}")
    return result.stdout.decode(errors="replace")


@contextmanager
def local_vendor(
    env: dict[str, str], log_path: Path, ready_timeout: float = 300
) -> Iterator[LocalVendor]:
    """Start `vendor_service serve` on a free loopback port; stop it afterwards."""
    port = free_port()
    token = env.get("VENDOR_ADMIN_TOKEN") or secrets.token_urlsafe(32)
    argv = commands.with_interpreter(commands.vendor_serve("127.0.0.1", port), sys.executable)
    full_env = {**os.environ, **env, "VENDOR_ADMIN_TOKEN": token}
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(base_url, process, log_path, ready_timeout)
            yield LocalVendor(base_url, token, log_path)
        finally:
            stop_process(process, grace=20)


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(
    base_url: str, process: subprocess.Popen[bytes], log: Path | None, timeout: float
) -> None:
    """Poll /readyz until 200; fail fast, with the log's tail, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(
                f"the vendor exited ({process.returncode}) before it was ready:\n{tail}"
            )
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"the vendor at {base_url} was not ready after {timeout:.0f} s (log: {log})")


def create_api_key(base_url: str, admin_token: str, name: str, budget: int) -> str:
    """A new API key with `budget` credits, through the vendor's admin API."""
    response = httpx.post(
        f"{base_url}/v1/admin/keys",
        json={"name": name, "budget": budget},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    if not response.is_success:  # an error body never holds a secret; a success body does
        raise RuntimeError(f"could not create an API key: {response.status_code} {response.text}")
    return str(response.json()["api_key"])
