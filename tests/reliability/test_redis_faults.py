"""The vendor against its own redis-server (AOF, fsync always) that the tests kill and restart.

- Restart: keys, budgets, spend, revocations and stored idempotent responses survive a kill -9
  of Redis, and the vendor keeps serving on its existing connection pool; so do the client's
  cached embeddings and spend record, and nothing is bought twice.
- Unreachable: every metered or ledger-backed route answers 503 ledger_unavailable with
  Retry-After (fast, no hang), nothing is delivered unpaid or charged undelivered, the process
  stays alive, and it serves again as soon as Redis is back.
- Outage under fire: clients retrying with Idempotency-Keys through a Redis kill and restart
  end with every request delivered once and charged once.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

import httpx
import orjson
import pytest
import redis

from client_trainer.purchase.tracker import BudgetTracker, Query
from client_trainer.teacher.client import TeacherClient
from shared.errors import ErrorCode
from shared.hashing import content_key
from shared.schemas import Modality
from tests.reliability.ledger_audit import (
    PRICE_PER_IMAGE,
    PRICE_PER_TEXT,
    assert_exact,
    read_key,
    wait_reserved_zero,
)
from tests.reliability.payloads import b64, png_bytes
from tests.reliability.redis_process import RedisProcess
from tests.reliability.retrying_client import post_until_done
from tests.reliability.vendor_process import VendorProcess
from tests.support.errors import assert_wire_error

LEASE_SECONDS = 4.0
PREFIX = "vendor:"


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis-aof"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def vendor(
    private_redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VendorProcess]:
    process = VendorProcess(
        private_redis.url,
        PREFIX,
        tmp_path_factory.mktemp("vendor-on-private-redis"),
        {
            "VENDOR_LEASE_SECONDS": str(LEASE_SECONDS),
            "VENDOR_INFERENCE_TIMEOUT_SECONDS": str(LEASE_SECONDS - 1),
            "VENDOR_REAPER_INTERVAL_SECONDS": "0.5",
        },
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
def redis_back(private_redis: RedisProcess) -> Iterator[RedisProcess]:
    """Whatever a test does to Redis, it runs again afterwards."""
    yield private_redis
    if private_redis.process is None:
        private_redis.start()


def _text_body(model_id: str, *texts: str) -> dict[str, Any]:
    return {"model": model_id, "input": list(texts)}


def _image_body(model_id: str, count: int, seed: int = 0) -> dict[str, Any]:
    images = [b64(png_bytes(16, 16, seed=seed + i)) for i in range(count)]
    return {"model": model_id, "input": images, "modality": "image"}


def _snapshot(client: redis.Redis) -> dict[bytes, dict[bytes, bytes]]:
    """Every ledger hash under the vendor's prefix (keys, idempotency records)."""
    out: dict[bytes, dict[bytes, bytes]] = {}
    for name in client.scan_iter(match=f"{PREFIX}*", count=1000):
        if client.type(name) == b"hash":
            # redis-py types replies as bytes | str; this client does not decode: bytes.
            out[name] = cast("dict[bytes, bytes]", client.hgetall(name))
    return out


def _soon(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call retried on 503 ledger_unavailable for at most 5 s.

    Right after Redis restarts, each pooled connection of the vendor is stale: the first
    command on it fails and that request gets a (retryable) 503 before the pool reconnects.
    """
    give_up = time.monotonic() + 5
    while True:
        response = client.request(method, path, **kwargs)
        if response.status_code != 503 or time.monotonic() > give_up:
            return response
        time.sleep(0.2)


def _post_soon(
    client: httpx.Client, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return _soon(client, "POST", "/v1/embeddings", json=body, headers=headers)


def test_redis_kill_9_and_restart_loses_nothing(
    vendor: VendorProcess, redis_back: RedisProcess
) -> None:
    model_id = vendor.model_id()
    spender_id, spender = vendor.create_key(10_000, "spender")
    revoked_id, revoked = vendor.create_key(500, "revoked")
    idem = {"Authorization": f"Bearer {spender}", "Idempotency-Key": "before-the-crash"}
    with httpx.Client(base_url=vendor.base_url, timeout=30) as client, vendor.admin() as admin:
        first = client.post("/v1/embeddings", json=_image_body(model_id, 3), headers=idem)
        assert first.status_code == 200, first.text
        texts = client.post(
            "/v1/embeddings",
            json=_text_body(model_id, "a", "b"),
            headers={"Authorization": f"Bearer {spender}"},
        )
        assert texts.status_code == 200, texts.text
        assert admin.post(f"/v1/admin/keys/{spender_id}/topup", json={"amount": 77}).is_success
        assert admin.delete(f"/v1/admin/keys/{revoked_id}").is_success
        with redis_back.client() as raw:
            before = _snapshot(raw)

        redis_back.kill()  # no shutdown save: only the append-only file can bring this back
        redis_back.start()

        with redis_back.client() as raw:
            assert _snapshot(raw) == before
            ledger = read_key(raw, PREFIX, spender_id)
        assert_exact(
            ledger,
            10_000 + 77,
            images=3,
            texts=2,
            requests=2,
            reported=_soon(admin, "GET", f"/v1/admin/keys/{spender_id}").json(),
        )
        # The vendor reconnects: the stored response replays byte for byte, uncharged...
        replay = _post_soon(client, _image_body(model_id, 3), idem)
        assert (replay.status_code, replay.content) == (200, first.content)
        # ...the hashed secret still authenticates, the revocation still holds...
        more = _post_soon(client, _text_body(model_id, "c"), {"Authorization": f"Bearer {spender}"})
        assert more.status_code == 200, more.text
        refused = _soon(client, "GET", "/v1/usage", headers={"Authorization": f"Bearer {revoked}"})
        assert_wire_error(refused, ErrorCode.REVOKED_API_KEY)
    with redis_back.client() as raw:
        assert read_key(raw, PREFIX, spender_id).spent == ledger.spent + PRICE_PER_TEXT


async def test_client_cache_survives_a_redis_crash_and_is_not_bought_again(
    vendor: VendorProcess, redis_back: RedisProcess
) -> None:
    """The client's BudgetTracker + TeacherClient, in process, on the same crashed Redis."""
    model_id = vendor.model_id()
    key_id, api_key = vendor.create_key(10_000, "client-cache")
    images = [b64(png_bytes(16, 16, seed=100 + i)) for i in range(5)]
    queries = [
        Query(content_key(model_id, "image", base64.b64decode(image)), image) for image in images
    ]
    with redis_back.client() as raw:
        tracker = BudgetTracker(raw, "client:", "aof", cap=None)
        async with TeacherClient(vendor.base_url, api_key) as teacher:
            bought = await tracker.acquire(Modality.IMAGE, queries, teacher)
    spent = 5 * PRICE_PER_IMAGE

    redis_back.kill()
    redis_back.start()

    with redis_back.client() as raw:
        tracker = BudgetTracker(raw, "client:", "aof", cap=None)
        cached = tracker.cached([q.key for q in queries])
        assert sorted(cached) == sorted(q.key for q in queries)
        for query, vector in zip(queries, bought, strict=True):
            assert cached[query.key].tobytes() == vector.astype("<f4").tobytes()
        async with TeacherClient(vendor.base_url, api_key) as teacher:
            again = await tracker.acquire(Modality.IMAGE, queries, teacher)
        assert again.tobytes() == bought.tobytes()
        assert tracker.record().cost == spent  # the run's own record survived too
        assert read_key(raw, PREFIX, key_id).spent == spent  # nothing bought twice


def test_redis_unreachable_answers_503_and_charges_nothing(
    vendor: VendorProcess, redis_back: RedisProcess
) -> None:
    """/healthz stays 200 (the process is fine) and /readyz is left to the model's health on
    purpose: Redis is shared by every replica, so failing readiness on it would pull all of them
    out of the balancer at once; the 503 ledger_unavailable + Retry-After is the signal."""
    model_id = vendor.model_id()
    key_id, api_key = vendor.create_key(10_000, "outage")
    auth = {"Authorization": f"Bearer {api_key}"}
    calls = [
        ("POST", "/v1/embeddings", _text_body(model_id, "hello"), auth),
        ("POST", "/v1/embeddings", _image_body(model_id, 2), auth),
        ("POST", "/v1/embeddings", _text_body(model_id, "x"), {**auth, "Idempotency-Key": "k1"}),
        ("GET", "/v1/usage", None, auth),
        ("GET", f"/v1/admin/keys/{key_id}", None, None),
    ]
    with httpx.Client(base_url=vendor.base_url, timeout=30) as client, vendor.admin() as admin:
        redis_back.stop()
        for method, path, body, headers in calls:
            started = time.monotonic()
            http = admin if headers is None else client
            response = http.request(method, path, json=body, headers=headers)
            assert time.monotonic() - started < 5, f"{method} {path} hung while Redis was down"
            assert_wire_error(response, ErrorCode.LEDGER_UNAVAILABLE)
            assert int(response.headers["Retry-After"]) >= 1
        assert client.get("/healthz").status_code == 200  # alive: no crash, no restart needed
        assert vendor.process is not None and vendor.process.poll() is None

        redis_back.start()
        response = _post_soon(client, _text_body(model_id, "back"), auth)
        assert response.status_code == 200, response.text
    with redis_back.client() as raw:
        ledger = read_key(raw, PREFIX, key_id)
    assert_exact(ledger, 10_000, images=0, texts=1, requests=1)


async def test_outage_under_fire_delivers_and_charges_each_request_once(
    vendor: VendorProcess, redis_back: RedisProcess
) -> None:
    """Redis dies and returns while 16 requests are retried with their Idempotency-Keys."""
    model_id = vendor.model_id()
    key_id, api_key = vendor.create_key(10**6, "under-fire")
    requests = 16
    deadline = time.monotonic() + 60

    async def one(seed: int) -> Any:
        headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": uuid.uuid4().hex}
        await asyncio.sleep(seed * 0.05)  # spread over the outage
        return await post_until_done(client, _image_body(model_id, 8, seed * 8), headers, deadline)

    async with httpx.AsyncClient(base_url=vendor.base_url, timeout=30) as client:
        tasks = [asyncio.create_task(one(seed)) for seed in range(requests)]
        await asyncio.sleep(0.2)
        await asyncio.to_thread(redis_back.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_back.start)
        outcomes = await asyncio.gather(*tasks)

    assert all(o.status == 200 for o in outcomes), outcomes
    assert all(len(orjson.loads(o.body)["data"]) == 8 for o in outcomes)
    assert any("ledger_unavailable" in o.retried_codes or o.transport_errors for o in outcomes)
    with redis_back.client() as raw:
        wait_reserved_zero(raw, PREFIX, [key_id], LEASE_SECONDS + 3)
        ledger = read_key(raw, PREFIX, key_id)
    assert_exact(ledger, 10**6, images=8 * requests, texts=0, requests=requests)
    assert ledger.spent == PRICE_PER_IMAGE * 8 * requests
