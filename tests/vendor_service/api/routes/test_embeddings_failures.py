"""When inference fails or the service is saturated: 503s, refunds, readiness."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
import uvicorn
from starlette.types import Message

from shared.schemas import Modality
from tests.support.errors import assert_error
from tests.support.waiting import until
from tests.vendor_service.conftest import (
    MODEL_ID,
    AppMaker,
    VendorApp,
    png_b64,
    test_settings,
)
from tests.vendor_service.models import ControllableModel, controllable_factory
from vendor_service.server.app import create_app


async def test_failed_inference_refunds_and_flips_readiness(vendor_app: VendorApp) -> None:
    key_id, api_key = await vendor_app.create_key(budget=100)
    assert (await vendor_app.client.get("/readyz")).status_code == 200
    vendor_app.model.failing = True
    response = await vendor_app.embed(api_key, [png_b64()], "image")
    assert_error(response, 503, "inference_failed")
    assert int(response.headers["Retry-After"]) >= 1
    info = await vendor_app.key_info(key_id)
    assert (info["spent"], info["reserved"], info["remaining"], info["images"]) == (0, 0, 100, 0)
    ready = await vendor_app.client.get("/readyz")
    assert_error(ready, 503, "not_ready")
    assert (await vendor_app.client.get("/healthz")).status_code == 200
    vendor_app.model.failing = False
    assert (await vendor_app.embed(api_key, [png_b64()], "image")).status_code == 200
    assert (await vendor_app.client.get("/readyz")).status_code == 200
    assert (await vendor_app.key_info(key_id))["spent"] == 10
    metrics = (await vendor_app.client.get("/metrics")).text
    assert 'vendor_refunds_total{reason="inference_failed"} 1.0' in metrics


async def test_failed_inference_frees_the_idempotency_key(each_vendor_app: VendorApp) -> None:
    key_id, api_key = await each_vendor_app.create_key(budget=100)
    headers = {"Idempotency-Key": "retry-me"}
    each_vendor_app.model.failing = True
    assert (await each_vendor_app.embed(api_key, ["t"], headers=headers)).status_code == 503
    each_vendor_app.model.failing = False
    retried = await each_vendor_app.embed(api_key, ["t"], headers=headers)
    assert retried.status_code == 200
    assert (await each_vendor_app.key_info(key_id))["spent"] == 1


async def test_full_queue_answers_overloaded(make_app: AppMaker) -> None:
    async with make_app(max_queue_items=4, max_inputs_per_request=4, max_batch_size=2) as vendor:
        key_id, api_key = await vendor.create_key(budget=1000)
        vendor.model.gate.clear()  # hold the forward so the queue fills
        vendor.model.entered.clear()  # (set by the warm-up's forwards)
        first = asyncio.create_task(vendor.embed(api_key, ["a", "b"]))
        await asyncio.to_thread(vendor.model.entered.wait, 10)  # held inside the forward
        second = asyncio.create_task(vendor.embed(api_key, ["c", "d", "e", "f"]))
        texts = vendor.state.engine.batchers[Modality.TEXT]
        await until(lambda: texts.queued_items == 4, what="the second request to queue")
        rejected = await vendor.embed(api_key, ["g"])
        assert_error(rejected, 503, "overloaded")
        assert rejected.headers["Retry-After"]
        vendor.model.gate.set()
        assert (await first).status_code == (await second).status_code == 200
        info = await vendor.key_info(key_id)
        assert (info["spent"], info["reserved"]) == (6, 0)
        metrics = (await vendor.client.get("/metrics")).text
        assert "vendor_refunds_total{" not in metrics  # refused before it reserved anything


async def test_replay_while_in_progress_is_409(each_make_app: AppMaker) -> None:
    async with each_make_app() as vendor:
        _, api_key = await vendor.create_key(budget=1000)
        headers = {"Idempotency-Key": "slow"}
        vendor.model.gate.clear()
        vendor.model.entered.clear()  # (set by the warm-up's forwards)
        first = asyncio.create_task(vendor.embed(api_key, ["a"], headers=headers))
        await asyncio.to_thread(vendor.model.entered.wait, 10)  # reserved, held in the forward
        again = await vendor.embed(api_key, ["a"], headers=headers)
        assert_error(again, 409, "idempotency_key_in_progress")
        assert again.headers["Retry-After"]
        vendor.model.gate.set()
        assert (await first).status_code == 200


async def test_idempotent_replay_is_byte_identical_and_free(each_vendor_app: VendorApp) -> None:
    key_id, api_key = await each_vendor_app.create_key(budget=100)
    headers = {"Idempotency-Key": "k-1"}
    images = [png_b64(seed=5), png_b64(seed=6)]
    first = await each_vendor_app.embed(api_key, images, "image", headers=headers)
    replay = await each_vendor_app.embed(api_key, images, "image", headers=headers)
    assert first.status_code == replay.status_code == 200
    assert first.content == replay.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert (await each_vendor_app.key_info(key_id))["spent"] == 20
    reused = await each_vendor_app.embed(api_key, images[:1], "image", headers=headers)
    assert_error(reused, 409, "idempotency_key_reused")
    assert (await each_vendor_app.key_info(key_id))["spent"] == 20


async def test_unexpected_exception_is_a_generic_500(vendor_app: VendorApp) -> None:
    key_id, api_key = await vendor_app.create_key(budget=100)
    vendor_app.model.preprocess_bug = True
    response = await vendor_app.embed(api_key, [png_b64()], "image")
    assert response.status_code == 500
    assert "secret" not in response.text and "KeyError" not in response.text
    assert response.json()["error"] == {
        "message": "internal error; you were not charged",
        "type": "server_error",
        "code": "internal_error",
    }
    info = await vendor_app.key_info(key_id)
    assert (info["spent"], info["reserved"]) == (0, 0)


async def hang_up_during_inference(vendor: VendorApp, api_key: str, key: str | None) -> int:
    """One image request straight through the ASGI app, from a caller whose connection closes
    while its forward pass runs; returns the status the app tried to send."""
    body = {"model": MODEL_ID, "input": [png_b64()], "modality": "image"}
    headers = [(b"authorization", f"Bearer {api_key}".encode())]
    headers += [(b"content-type", b"application/json")]
    if key:
        headers.append((b"idempotency-key", key.encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/embeddings", "raw_path": b"/v1/embeddings",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("vendor", 80), "root_path": "",
    }  # fmt: skip
    gone = threading.Event()
    vendor.model.on_forward = lambda size: gone.set()
    messages: list[Message] = [
        {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
    ]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if gone.is_set():
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # the connection is open and quiet
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await vendor.app(scope, receive, send)
    assert gone.is_set(), "the forward pass never ran"
    return int(sent[0]["status"])


@pytest.mark.parametrize("key", [None, "hung-up-1"], ids=["no-key", "idempotency-key"])
async def test_a_caller_who_hangs_up_during_inference_is_refunded(
    vendor_app: VendorApp, key: str | None
) -> None:
    key_id, api_key = await vendor_app.create_key(budget=100)
    assert await hang_up_during_inference(vendor_app, api_key, key) == 499
    info = await vendor_app.key_info(key_id)
    assert (info["spent"], info["reserved"], info["remaining"], info["images"]) == (0, 0, 100, 0)
    metrics = (await vendor_app.client.get("/metrics")).text
    assert 'vendor_refunds_total{reason="caller_left"} 1.0' in metrics
    # Coming back, the caller buys it like any request (the refund freed its Idempotency-Key).
    headers = {"Idempotency-Key": key} if key else {}
    again = await vendor_app.embed(api_key, [png_b64()], "image", headers=headers)
    assert again.status_code == 200
    assert (await vendor_app.key_info(key_id))["spent"] == 10


async def test_uvicorn_tells_the_sale_that_its_caller_hung_up(
    redis_url: str, redis_prefix: str
) -> None:
    # The same as above over a real socket: the caller closes it while its forward pass runs.
    holder: list[ControllableModel] = []
    app = create_app(test_settings(redis_url, redis_prefix), controllable_factory(holder))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            vendor = VendorApp(client, app.state.vendor.settings, holder[0], app)
            key_id, api_key = await vendor.create_key(budget=100)
            entered, release = threading.Event(), threading.Event()

            def hold(size: int) -> None:
                entered.set()
                release.wait(10)

            vendor.model.on_forward = hold
            body = json.dumps({"model": MODEL_ID, "input": [png_b64()], "modality": "image"})
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"POST /v1/embeddings HTTP/1.1\r\nHost: vendor\r\nAuthorization: Bearer "
                f"{api_key}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                f"\r\n\r\n{body}".encode()
            )
            await writer.drain()
            assert await asyncio.to_thread(entered.wait, 10)
            connections = server.server_state.connections
            open_before = len(connections)  # this one and the httpx client's keep-alive one
            writer.close()
            # The server reads the close while the forward runs: it forgets the connection.
            await until(lambda: len(connections) == open_before - 1, what="uvicorn to see it")
            release.set()
            for _ in range(100):
                info = await vendor.key_info(key_id)
                if info["reserved"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert (info["spent"], info["reserved"], info["remaining"]) == (0, 0, 100)
            metrics = (await client.get("/metrics")).text
            assert 'vendor_refunds_total{reason="caller_left"} 1.0' in metrics
    finally:
        server.should_exit = True
        await serving
