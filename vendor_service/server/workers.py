"""Serving with several HTTP worker processes (`VENDOR_WORKERS`), and what every process sets.

One Python process answers HTTP, decodes images and batches forwards under one GIL: on small
requests it tops out well before the machine's cores do. With `VENDOR_WORKERS=N`, N worker
processes serve the same port, each with its own event loop, model and batcher.

Each worker binds its own socket with SO_REUSEPORT, so the kernel spreads new connections
over the workers by a hash of their addresses. (With one shared listening socket, as
uvicorn's `--workers` does, whichever worker wakes first accepts a whole burst of
connections, and keep-alive clients then stay piled on it.) The parent supervises: a worker
that dies after its start-up finished is replaced; one that dies before (a model that cannot
load) stops the service with exit code 1 instead of restarting in a loop.

On a GPU host there is one worker per GPU by default (VENDOR_WORKERS=auto), and worker i
serves on GPU i: the parent hands each worker its device and index (VENDOR_DEVICE=cuda:i,
VENDOR_WORKER_INDEX=i; `engine/devices.py`), and a replaced worker gets its predecessor's.

What the workers must agree on is settled once by the parent and handed down in their
environment:

- Redis (so one ledger, one set of rate limits): the parent starts the embedded one itself
  when `REDIS_URL` is unset, and every worker connects to it;
- the admin token (a dev-mode token is generated once, not once per worker);
- torch threads per worker (the cores shared out);
- PROMETHEUS_MULTIPROC_DIR, a fresh directory where every worker's metrics are written and
  which /metrics adds up, whichever worker answers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from shared.redis_server import resolve_redis
from vendor_service.engine.devices import use_device, worker_environments
from vendor_service.metrics import MULTIPROC_ENV
from vendor_service.server.process import configure_process
from vendor_service.settings import Settings, load_settings

log = logging.getLogger(__name__)


@contextmanager
def shared_environment(settings: Settings) -> Iterator[dict[str, str]]:
    """Set (and afterwards restore) the environment the workers start from; yields it."""
    endpoint = resolve_redis(settings.redis_url, settings.data_dir, who="vendor")
    own_metrics_dir = not os.environ.get(MULTIPROC_ENV)
    metrics_dir = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="vendor-metrics-")
    shared = {
        "REDIS_URL": endpoint.url,
        "VENDOR_ADMIN_TOKEN": settings.admin_token,
        "VENDOR_TORCH_THREADS": str(settings.torch_threads),
        "VENDOR_WORKERS": str(settings.workers),
        MULTIPROC_ENV: metrics_dir,
    }
    before = {name: os.environ.get(name) for name in shared}
    os.environ.update(shared)
    try:
        yield shared
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        endpoint.close()


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other workers can bind too (SO_REUSEPORT).

    Not listening yet: the kernel routes connections only to listening sockets, and asyncio
    starts listening once uvicorn's start-up (model load, warm-up) is done, so a worker that
    is still starting (or restarting) receives no connections that would wait on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_worker(host: str, port: int, started: EventType, own: dict[str, str]) -> None:
    """One worker process: settings from the shared environment and its `own` (its device and
    index), its own socket and app; sets `started` once the app's start-up (model load,
    warm-up) is done."""
    import uvicorn

    from vendor_service.server.app import create_app

    os.environ.update(own)
    settings = load_settings()
    configure_process(settings)
    use_device(settings.device)
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=_report_start, args=(server, started), daemon=True).start()
    server.run(sockets=[bind(host, port)])


def _report_start(server: Any, started: EventType) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.1)
    if server.started:
        started.set()


@dataclass
class _Worker:
    process: BaseProcess
    started: EventType  # set once the worker finished its start-up
    announced: bool = False  # its start was logged


class _Supervisor:
    def __init__(self, environments: list[dict[str, str]], host: str, port: int) -> None:
        self._context = multiprocessing.get_context("spawn")  # no torch state forked
        self._host, self._port = host, port
        self._environments = environments  # per worker: its device and index
        self._stop = threading.Event()
        self._workers: list[_Worker] = []

    def _start(self, index: int) -> _Worker:
        started = self._context.Event()
        process = self._context.Process(
            target=serve_worker,
            args=(self._host, self._port, started, self._environments[index]),
            name=f"vendor-worker-{index}",
        )
        process.start()
        return _Worker(process, started)

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        """Start the workers and watch them until stopped; 0, or 1 when one failed to start."""
        self._workers = [self._start(i) for i in range(len(self._environments))]
        code = 0
        while not self._stop.wait(0.5):
            for i, worker in enumerate(self._workers):
                if worker.process.is_alive():
                    if worker.started.is_set() and not worker.announced:
                        log.info("worker %s started", worker.process.pid)
                        worker.announced = True
                    continue
                exitcode = worker.process.exitcode
                if worker.process.pid is not None:  # its live gauges leave /metrics' sums
                    mark_process_dead(worker.process.pid)
                if not worker.started.is_set():  # a restart would fail the same way
                    log.error("a worker exited during start-up (code %s); stopping", exitcode)
                    code = 1
                    self._stop.set()
                    break
                log.warning("worker %d exited (code %s); starting another", i, exitcode)
                self._workers[i] = self._start(i)
        self._shut_down()
        return code

    def _shut_down(self, grace: float = 20.0) -> None:
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()  # SIGTERM: uvicorn finishes what is in flight
        deadline = time.monotonic() + grace
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


def run_workers(settings: Settings, host: str, port: int, gpus: int) -> int:
    """Serve on host:port with `settings.workers` worker processes (on `gpus` GPUs, one per
    GPU) until SIGTERM or SIGINT; returns the exit code."""
    environments = worker_environments(settings, gpus)
    with shared_environment(settings):
        supervisor = _Supervisor(environments, host, port)
        for signum in (signal.SIGTERM, signal.SIGINT):  # before any worker exists
            signal.signal(signum, supervisor.stop)
        devices = ", ".join(env["VENDOR_DEVICE"] for env in environments)
        log.info("serving on %s:%d with %d worker processes (%s)", host, port,
                 len(environments), devices)  # fmt: skip
        return supervisor.run()
