"""A vendor process a test can SIGKILL and start again on the same port and Redis prefix.

`tests.support.live_vendor` gives a vendor for a whole module; fault tests need more control:
the same port across restarts (clients keep their base URL), a kill -9, several processes on
one prefix (replicas), and every start's log kept for the secret scan.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.live_vendor import ADMIN_TOKEN, REPO_ROOT, free_port, vendor_env, wait_ready


@dataclass
class VendorProcess:
    redis_url: str
    prefix: str
    log_dir: Path
    overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process without waiting for it (replicas start side by side)."""
        self.starts += 1
        log_path = self.log_dir / f"vendor-{self.port}-{self.starts}.log"
        with log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "vendor_service", "serve"),
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                ],
                cwd=REPO_ROOT,
                env=vendor_env(self.redis_url, self.prefix, self.overrides),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.process is not None
        wait_ready(self.base_url, self.process, timeout)

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, reservations in flight stay held in Redis."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def logs(self) -> str:
        """Everything every start of this vendor wrote (stdout and stderr)."""
        paths = sorted(self.log_dir.glob(f"vendor-{self.port}-*.log"))
        return "".join(path.read_text(errors="replace") for path in paths)

    def admin(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def create_key(self, budget: int, name: str = "reliability") -> tuple[str, str]:
        """(key_id, api_key) of a new key with `budget` credits.

        Retries a 503 for up to 5 s: right after a test restarted Redis, the first command on
        each stale pooled connection of the vendor fails once (a retryable 503).
        """
        give_up = time.monotonic() + 5
        with self.admin() as client:
            while True:
                response = client.post("/v1/admin/keys", json={"name": name, "budget": budget})
                if response.status_code != 503 or time.monotonic() > give_up:
                    break
                time.sleep(0.2)
            response.raise_for_status()
            body = response.json()
        return body["key_id"], body["api_key"]

    def model_id(self) -> str:
        response = httpx.get(f"{self.base_url}/v1/models", timeout=10)
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of a process so far (Linux VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


@contextmanager
def running_vendors(
    redis_url: str, prefix: str, log_dir: Path, count: int = 1, /, **overrides: str
) -> Iterator[list[VendorProcess]]:
    """`count` vendor processes on one Redis prefix, started side by side, always stopped."""
    vendors = [VendorProcess(redis_url, prefix, log_dir, dict(overrides)) for _ in range(count)]
    with ExitStack() as stack:
        for vendor in vendors:
            stack.callback(vendor.stop)
            vendor.spawn()
        for vendor in vendors:
            vendor.wait_ready()
        yield vendors
