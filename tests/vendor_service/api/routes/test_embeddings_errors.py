"""Every 4xx of POST /v1/embeddings: the right code, the one error shape, nothing charged."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from shared.errors import ErrorBody
from shared.redis_connection import connect_async
from tests.support.errors import assert_error
from tests.vendor_service.conftest import AppMaker, VendorApp, png_b64
from vendor_service.metering import Ledger


def jpeg_b64(size: int = 40) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (10, 200, 30)).save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


def solid_png_b64(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def gif_b64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    return base64.b64encode(buffer.getvalue()).decode()


def truncated_png_b64() -> str:
    raw = base64.b64decode(png_b64(64, 64))
    return base64.b64encode(raw[: len(raw) // 2]).decode()


async def test_missing_and_invalid_keys_are_401(vendor_app: VendorApp) -> None:
    body = {"model": "x", "input": "hi"}
    assert_error(await vendor_app.client.post("/v1/embeddings", json=body), 401, "missing_api_key")
    for token in ("nonsense", "vk-0123456789ab-wrongsecret", "vk-zz-zz"):
        response = await vendor_app.embed(token, "hi")
        assert_error(response, 401, "invalid_api_key")
    _, api_key = await vendor_app.create_key(budget=10)
    wrong_secret = api_key[:-4] + "AAAA"
    assert_error(await vendor_app.embed(wrong_secret, "hi"), 401, "invalid_api_key")


async def test_revocation_is_effective_at_once(each_vendor_app: VendorApp) -> None:
    key_id, api_key = await each_vendor_app.create_key(budget=10)
    assert (await each_vendor_app.embed(api_key, "hi")).status_code == 200
    admin = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
    revoked = await each_vendor_app.client.delete(f"/v1/admin/keys/{key_id}", headers=admin)
    assert revoked.is_success
    assert_error(await each_vendor_app.embed(api_key, "hi"), 401, "revoked_api_key")
    caller = {"Authorization": f"Bearer {api_key}"}
    usage = await each_vendor_app.client.get("/v1/usage", headers=caller)
    assert_error(usage, 401, "revoked_api_key")


async def test_a_revocation_by_another_worker_is_effective_at_once(
    each_vendor_app: VendorApp,
) -> None:
    """This worker verified the key a moment ago; another one revokes it."""
    key_id, api_key = await each_vendor_app.create_key(budget=10)
    assert (await each_vendor_app.embed(api_key, "hi")).status_code == 200
    client = connect_async(each_vendor_app.settings.redis_url or "")
    await Ledger(client, each_vendor_app.settings.redis_prefix).revoke(key_id)
    await client.aclose()
    caller = {"Authorization": f"Bearer {api_key}"}
    usage = await each_vendor_app.client.get("/v1/usage", headers=caller)
    assert_error(usage, 401, "revoked_api_key")
    assert_error(await each_vendor_app.embed(api_key, "hi"), 401, "revoked_api_key")
    assert_error(await each_vendor_app.embed(api_key, [png_b64()], "image"), 401, "revoked_api_key")
    assert (await each_vendor_app.key_info(key_id))["spent"] == 1


async def test_insufficient_budget_charges_and_delivers_nothing(each_vendor_app: VendorApp) -> None:
    key_id, api_key = await each_vendor_app.create_key(budget=25)
    response = await each_vendor_app.embed(api_key, [png_b64(seed=i) for i in range(3)], "image")
    assert_error(response, 402, "insufficient_budget")
    info = await each_vendor_app.key_info(key_id)
    assert (info["spent"], info["reserved"], info["remaining"]) == (0, 0, 25)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "other-model"}, 404, "model_not_found"),
        ({"input": []}, 422, "empty_input"),
        ({"input": ""}, 422, "empty_input"),
        ({"input": ["ok", ""]}, 422, "empty_input"),
        ({"modality": "audio"}, 422, "invalid_request"),
        ({"input": [1, 2, 3]}, 422, "invalid_request"),
        ({"input": [[1, 2]]}, 422, "invalid_request"),
        ({"dimensions": 7}, 422, "invalid_request"),
        ({"unknown_field": 1}, 422, "invalid_request"),
        ({"encoding_format": "int8"}, 422, "invalid_request"),
        ({"input": ["x"] * 9}, 413, "too_many_inputs"),
        ({"input": "y" * 101}, 413, "text_too_long"),
        ({"modality": "image", "input": "!!!not-base64!!!"}, 422, "invalid_base64"),
        ({"modality": "image", "input": "data:text/plain;base64,aGk="}, 415,
         "unsupported_image_format"),
    ],
)  # fmt: skip
async def test_bad_requests(
    make_app: AppMaker, body: dict[str, Any], status: int, code: str
) -> None:
    async with make_app(max_inputs_per_request=8, max_text_chars=100) as vendor:
        key_id, api_key = await vendor.create_key(budget=1000)
        inputs = body.pop("input", ["hello"])
        modality = body.pop("modality", "text")
        if "model" in body:
            request = {"input": inputs, "modality": modality, **body}
            headers = {"Authorization": f"Bearer {api_key}"}
            response = await vendor.client.post("/v1/embeddings", json=request, headers=headers)
        else:
            response = await vendor.embed(api_key, inputs, modality, **body)
        assert_error(response, status, code)
        info = await vendor.key_info(key_id)
        assert (info["spent"], info["reserved"], info["requests"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (gif_b64(), 415, "unsupported_image_format"),
        (base64.b64encode(b"plain text, not an image").decode(), 415, "unsupported_image_format"),
        (truncated_png_b64(), 422, "invalid_image"),
        (png_b64(200, 200), 413, "image_too_large"),
        (solid_png_b64(120, 100), 413, "image_dimensions_too_large"),
    ],
)
async def test_bad_images_fail_alone_and_charge_nothing(
    make_app: AppMaker, payload: str, status: int, code: str
) -> None:
    async with make_app(max_image_bytes=20_000, max_image_pixels=100 * 100) as vendor:
        key_id, api_key = await vendor.create_key(budget=1000)
        response = await vendor.embed(api_key, [png_b64(seed=3), payload], "image")
        assert_error(response, status, code)
        assert "input 1" in response.json()["error"]["message"]
        assert (await vendor.embed(api_key, [jpeg_b64()], "image")).status_code == 200
        info = await vendor.key_info(key_id)
        assert (info["spent"], info["images"], info["reserved"]) == (10, 1, 0)


async def test_malformed_json_is_422(vendor_app: VendorApp) -> None:
    _, api_key = await vendor_app.create_key(budget=10)
    response = await vendor_app.client.post(
        "/v1/embeddings",
        content=b'{"model": "x", "input": ',
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert_error(response, 422, "invalid_request")


async def test_body_too_large_is_413_before_parsing(make_app: AppMaker) -> None:
    async with make_app(max_body_bytes=2048) as vendor:
        key_id, api_key = await vendor.create_key(budget=1000)
        response = await vendor.embed(api_key, ["z" * 1000, "z" * 1000, "z" * 1000])
        assert_error(response, 413, "body_too_large")

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b" " * 1000

        streamed = await vendor.client.post(
            "/v1/embeddings",
            content=chunks(),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
        assert_error(streamed, 413, "body_too_large")
        assert (await vendor.key_info(key_id))["spent"] == 0


async def test_unknown_route_and_method(vendor_app: VendorApp) -> None:
    assert_error(await vendor_app.client.get("/v2/nothing"), 404, "not_found")
    assert_error(await vendor_app.client.get("/v1/embeddings"), 405, "method_not_allowed")


async def test_rate_limit_is_429_with_retry_after(make_app: AppMaker) -> None:
    async with make_app(rate_limit_requests="3/minute", rate_limit_items="1000/minute") as vendor:
        key_id, api_key = await vendor.create_key(budget=1000)
        statuses = [(await vendor.embed(api_key, "hi")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = await vendor.embed(api_key, "hi")
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await vendor.key_info(key_id))["spent"] == 3
        _, other = await vendor.create_key(budget=10)  # limits are per key
        assert (await vendor.embed(other, "hi")).status_code == 200


async def test_item_rate_limit_counts_inputs(make_app: AppMaker) -> None:
    async with make_app(rate_limit_items="5/minute") as vendor:
        _, api_key = await vendor.create_key(budget=1000)
        assert (await vendor.embed(api_key, ["a"] * 4)).status_code == 200
        assert_error(await vendor.embed(api_key, ["a"] * 2), 429, "rate_limited")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/json"),
        (b"null", "application/json"),
        (b"[]", "application/json"),
        (b'"just a string"', "application/json"),
        (b'{"model": 5, "input": {"a": 1}}', "application/json"),
        (b'{"model": "m", "input": "x", "dimensions": "many"}', "application/json"),
        (b'{"model": "m", "input": ["x", null]}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"model=m&input=x", "application/x-www-form-urlencoded"),
        (b'{"model": "m", "input": "x"}', "text/plain"),
    ],
)
async def test_odd_bodies_get_a_clean_4xx(
    vendor_app: VendorApp, content: bytes, content_type: str
) -> None:
    key_id, api_key = await vendor_app.create_key(budget=100)
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": content_type}
    response = await vendor_app.client.post("/v1/embeddings", content=content, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    ErrorBody.model_validate_json(response.content)
    assert (await vendor_app.key_info(key_id))["spent"] == 0


async def test_non_bearer_authorization_is_missing_key(vendor_app: VendorApp) -> None:
    response = await vendor_app.client.post(
        "/v1/embeddings", json={"model": "m", "input": "x"}, headers={"Authorization": "Basic eDp5"}
    )
    assert_error(response, 401, "missing_api_key")


async def test_idempotency_key_too_long_is_422(vendor_app: VendorApp) -> None:
    _, api_key = await vendor_app.create_key(budget=100)
    response = await vendor_app.embed(api_key, "x", headers={"Idempotency-Key": "k" * 300})
    assert_error(response, 422, "invalid_request")
