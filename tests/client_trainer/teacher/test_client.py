"""TeacherClient against a live vendor: batching, retries that never pay twice, 402."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from tenacity import AsyncRetrying, RetryCallState, wait_fixed

from client_trainer.teacher.client import PurchasedBatch, TeacherClient
from client_trainer.teacher.errors import BudgetExhausted, TeacherRetryable
from client_trainer.teacher.retry import WaitRetryAfter
from shared.codec import encode_png, to_base64
from shared.errors import ErrorBody, ErrorCode
from shared.hashing import content_key
from shared.schemas import Modality
from tests.support.live_vendor import LiveVendor, live_vendor
from tests.support.redis import delete_prefix

PRICE = 10


def _images(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    pngs = [encode_png(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)) for _ in range(n)]
    return [content_key("m", "image", p) for p in pngs], [to_base64(p) for p in pngs]


class DropFirstResponses(httpx.AsyncBaseTransport):
    """Forwards every request to the real vendor, but loses the response to the first
    attempt of the first `n` embedding requests on the way back (the vendor has charged;
    the client sees a read error)."""

    def __init__(self, n: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.left, self.sent = n, 0
        self.seen: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path == "/v1/embeddings":
            self.sent += 1
            key = request.headers["Idempotency-Key"]
            if self.left > 0 and key not in self.seen:
                self.seen.add(key)
                self.left -= 1
                await response.aread()
                raise httpx.ReadError("connection reset after the vendor answered", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class CountStatuses(httpx.AsyncBaseTransport):
    """Forwards to the real vendor and counts the statuses of embedding requests."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path == "/v1/embeddings":
            self.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class Busy503First(httpx.AsyncBaseTransport):
    """Answers the first attempt of every embedding request with 503 overloaded and
    Retry-After (as an overloaded vendor would), without forwarding it; then forwards."""

    def __init__(self, retry_after: str) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._retry_after = retry_after
        self.seen: set[str] = set()
        self.busy = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key")
        if request.url.path == "/v1/embeddings" and key not in self.seen:
            self.seen.add(str(key))
            self.busy += 1
            body = ErrorBody.of(ErrorCode.OVERLOADED, "queue full").model_dump_json()
            headers = {"Retry-After": self._retry_after, "Content-Type": "application/json"}
            return httpx.Response(503, content=body.encode(), headers=headers)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _buy(client: TeacherClient, keys: list[str], payloads: list[str]) -> list[PurchasedBatch]:
    batches: list[PurchasedBatch] = []

    async def go() -> None:
        async with client:
            await client.embed(Modality.IMAGE, keys, payloads, batches.append)

    asyncio.run(go())
    return batches


def test_batches_up_to_the_limit_and_returns_every_embedding_in_order(vendor: LiveVendor) -> None:
    key_id, api_key = vendor.create_key(10_000)
    keys, payloads = _images(23)
    client = TeacherClient(vendor.base_url, api_key, max_inputs_per_request=5, max_in_flight=3)
    batches = _buy(client, keys, payloads)
    assert sorted(len(b.keys) for b in batches) == [3, 5, 5, 5, 5]
    assert sorted(k for b in batches for k in b.keys) == sorted(keys)
    for b in batches:
        assert b.embeddings.shape == (len(b.keys), 32)
        assert np.allclose(np.linalg.norm(b.embeddings, axis=1), 1, atol=1e-4)
    assert vendor.key_info(key_id)["spent"] == 23 * PRICE


def test_a_lost_response_is_retried_with_the_same_key_and_not_charged_twice(
    vendor: LiveVendor,
) -> None:
    key_id, api_key = vendor.create_key(10_000)
    keys, payloads = _images(12, seed=1)
    transport = DropFirstResponses(2)
    client = TeacherClient(
        vendor.base_url, api_key, max_inputs_per_request=4, max_in_flight=1, transport=transport
    )
    batches = _buy(client, keys, payloads)
    assert transport.sent == 3 + 2  # two requests went out twice
    assert sum(b.replayed for b in batches) == 2  # ...and came back as replays
    # The client accounts each charge once: exactly what the vendor took.
    assert sum(b.cost for b in batches) == 12 * PRICE
    assert vendor.key_info(key_id)["spent"] == 12 * PRICE


def test_503_waits_for_retry_after_then_buys_once(vendor: LiveVendor) -> None:
    key_id, api_key = vendor.create_key(10_000)
    keys, payloads = _images(6, seed=4)
    transport = Busy503First("1")
    client = TeacherClient(
        vendor.base_url, api_key, max_inputs_per_request=3, max_in_flight=2, transport=transport
    )
    started = time.perf_counter()
    batches = _buy(client, keys, payloads)
    assert time.perf_counter() - started >= 1.0  # honoured Retry-After: 1
    assert transport.busy == 2 and sum(len(b.keys) for b in batches) == 6
    assert vendor.key_info(key_id)["spent"] == 6 * PRICE


def test_429_from_a_low_rate_limit_is_retried_and_everything_bought_once(
    redis_url: str,
) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    overrides = {"VENDOR_RATE_LIMIT_REQUESTS": "3/second"}
    try:
        with live_vendor(redis_url, prefix, Path(tempfile.mkdtemp()), overrides) as limited:
            key_id, api_key = limited.create_key(10_000)
            keys, payloads = _images(30, seed=2)
            counter = CountStatuses()
            client = TeacherClient(
                limited.base_url,
                api_key,
                max_inputs_per_request=2,
                max_in_flight=6,
                max_attempts=20,
                transport=counter,
            )
            batches = _buy(client, keys, payloads)
            assert sum(len(b.keys) for b in batches) == 30
            info = limited.key_info(key_id)
            assert info["spent"] == 30 * PRICE and info["requests"] == 15
            assert counter.statuses.count(429) > 0  # the limit really bit
            assert counter.statuses.count(200) == 15
    finally:
        delete_prefix(redis_url, prefix)


def test_402_buys_what_fits_then_says_what_is_missing(vendor: LiveVendor) -> None:
    key_id, api_key = vendor.create_key(13 * PRICE + 5)
    keys, payloads = _images(20, seed=3)
    client = TeacherClient(vendor.base_url, api_key, max_inputs_per_request=4, max_in_flight=1)
    batches: list[PurchasedBatch] = []

    async def go() -> None:
        async with client:
            await client.embed(Modality.IMAGE, keys, payloads, batches.append)

    with pytest.raises(BudgetExhausted) as caught:
        asyncio.run(go())
    assert caught.value.bought == 13 and caught.value.missing == 7
    assert "7 still missing" in str(caught.value) and "70 credits" in str(caught.value)
    assert sum(len(b.keys) for b in batches) == 13
    assert vendor.key_info(key_id)["spent"] == 13 * PRICE


def test_wait_honours_retry_after_else_falls_back() -> None:
    wait = WaitRetryAfter(wait_fixed(0.25), cap_s=5.0)
    state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
    state.set_exception((TeacherRetryable, TeacherRetryable(429, "rate_limited", "", 2.0), None))
    assert wait(state) == 2.0
    state.set_exception((TeacherRetryable, TeacherRetryable(429, "rate_limited", "", 60.0), None))
    assert wait(state) == 5.0  # capped
    state.set_exception((httpx.ConnectError, httpx.ConnectError("down"), None))
    assert wait(state) == 0.25


def test_unreachable_vendor_is_a_typed_error_after_bounded_attempts() -> None:
    from client_trainer.teacher.errors import TeacherUnavailable
    from tests.support.live_vendor import free_port

    client = TeacherClient(f"http://127.0.0.1:{free_port()}", "k", max_attempts=3)

    async def go() -> None:
        async with client:
            await client.card()

    with pytest.raises(TeacherUnavailable, match="unreachable after 3 attempts"):
        asyncio.run(go())


def test_a_wrong_key_is_a_clear_401_not_retried(vendor: LiveVendor) -> None:
    from client_trainer.teacher.errors import TeacherHTTPError

    counter = CountStatuses()
    client = TeacherClient(vendor.base_url, "sk-wrong", transport=counter)
    keys, payloads = _images(1)

    async def go() -> None:
        async with client:
            await client.embed(Modality.IMAGE, keys, payloads, lambda batch: None)

    with pytest.raises(TeacherHTTPError) as caught:
        asyncio.run(go())
    assert caught.value.status == 401
    assert caught.value.code in ("invalid_api_key", "missing_api_key")
