"""docker/probe.py, the images' health probe: 0 only for a 200 answer."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support import compose

PROBE = compose.REPO_ROOT / "docker" / "probe.py"


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/readyz" else 503
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def probe(*args: str) -> int:
    command = [sys.executable, str(PROBE), *args]
    return subprocess.run(command, timeout=30, check=False).returncode


def test_healthy_on_200(server: str) -> None:
    assert probe(f"{server}/readyz") == 0


def test_unhealthy_on_503(server: str) -> None:
    assert probe(f"{server}/not-ready") == 1


def test_unhealthy_when_nothing_listens() -> None:
    assert probe("http://127.0.0.1:9/readyz", "1") == 1


def test_usage_error_without_a_url() -> None:
    assert probe() == 2
