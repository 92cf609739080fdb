"""Prometheus metrics of one app, on its own registry (several apps can share a process).

With several HTTP worker processes (`VENDOR_WORKERS`), `serve` sets PROMETHEUS_MULTIPROC_DIR
before the workers start: prometheus_client then keeps every worker's values in files there,
and /metrics, whichever worker answers it, reports the sum over all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class VendorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "vendor_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "vendor_request_seconds", "HTTP request latency", ["route"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.items = Counter(
            "vendor_items", "Inputs embedded and delivered, by modality", ["modality"], registry=r
        )
        self.batch_size = Histogram(
            "vendor_batch_size", "Inputs per forward pass", ["modality"],
            buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.inference_seconds = Histogram(
            "vendor_inference_seconds", "Forward pass latency", ["modality"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "vendor_queue_items", "Inputs waiting for a forward pass", ["modality"], registry=r,
            multiprocess_mode="livesum",  # the queues of the live workers, added up
        )  # fmt: skip
        self.ready = Gauge(
            "vendor_ready_workers", "Serving processes warmed up and ready", registry=r,
            multiprocess_mode="livesum",  # with VENDOR_WORKERS: how many workers are ready
        )  # fmt: skip
        self.worker_device = Gauge(
            "vendor_worker_device", "1 per ready serving worker, by its index and the device "
            "its model runs on", ["worker", "device"], registry=r,
            multiprocess_mode="livesum",  # a worker that stops leaves the sum
        )  # fmt: skip
        self.spend = Counter("vendor_spend_credits", "Credits committed", registry=r)
        self.refunds = Counter(
            "vendor_refunds", "Reservations refunded, by reason", ["reason"], registry=r
        )
        self.replays = Counter("vendor_idempotent_replays", "Stored responses replayed", registry=r)
        self.unreplicated = Counter(
            "vendor_commits_unreplicated",
            "Commits (and admin writes) delivered before the replicas VENDOR_REDIS_WAIT_REPLICAS "
            "asks for had them: the charges a failover can lose", registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        if not os.environ.get(MULTIPROC_ENV):
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return generate_latest(merged)

    def close(self) -> None:
        """This worker stops: its live gauges leave the sum (its counters stay counted)."""
        if os.environ.get(MULTIPROC_ENV):
            mark_process_dead(os.getpid())
