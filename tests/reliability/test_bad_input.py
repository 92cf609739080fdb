"""Hand-made bad input against a live vendor: the right 4xx, the one error shape, no charge.

Each case is sent with a fresh key; the key's ledger is read from Redis before and after, so
"charges nothing" means spent, reserved and the item counters did not move at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from shared.errors import ErrorCode
from tests.reliability.conftest import BODY_LIMIT, Key
from tests.reliability.ledger_audit import PRICE_PER_IMAGE, PRICE_PER_TEXT, read_key
from tests.reliability.payloads import b64, declared_png, jpeg_bytes, png_bytes
from tests.reliability.vendor_process import VendorProcess, peak_rss_mib
from tests.support.errors import assert_wire_error

GIF_1X1 = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@dataclass(frozen=True)
class BadCase:
    name: str
    # body as a dict (sent as JSON, "MODEL" replaced by the real model id) or raw bytes
    body: dict[str, Any] | bytes
    code: ErrorCode
    headers: dict[str, str] = field(default_factory=dict)


def _image(*inputs: str) -> dict[str, Any]:
    return {"model": "MODEL", "input": list(inputs), "modality": "image"}


def _text(*inputs: str) -> dict[str, Any]:
    return {"model": "MODEL", "input": list(inputs)}


PNG = png_bytes(16, 16)
JPEG = jpeg_bytes(64, 64)
LONE_SURROGATE = b'{"model": "MODEL", "input": ["abc \\ud800 def"]}'

BAD_CASES = [
    BadCase("truncated png", _image(b64(PNG[: len(PNG) // 2])), ErrorCode.INVALID_IMAGE),
    BadCase("truncated jpeg", _image(b64(JPEG[: len(JPEG) * 2 // 3])), ErrorCode.INVALID_IMAGE),
    BadCase("0-byte image (empty string)", _image(""), ErrorCode.EMPTY_INPUT),
    BadCase("0-byte image (data uri)", _image("data:image/png;base64,"), ErrorCode.INVALID_IMAGE),
    BadCase(
        "decompression bomb 100000x100000",
        _image(b64(declared_png(100_000, 100_000))),
        ErrorCode.IMAGE_DIMENSIONS_TOO_LARGE,
    ),
    BadCase(
        "dimensions over the pixel limit 5000x5000",
        _image(b64(declared_png(5000, 5000))),
        ErrorCode.IMAGE_DIMENSIONS_TOO_LARGE,
    ),
    BadCase("wrong base64 alphabet", _image("this is not base64!!"), ErrorCode.INVALID_BASE64),
    BadCase("wrong base64 padding", _image(b64(PNG)[:-3]), ErrorCode.INVALID_BASE64),
    BadCase(
        "non-image bytes", _image(b64(b"just some text bytes")), ErrorCode.UNSUPPORTED_IMAGE_FORMAT
    ),
    BadCase("gif is not sold", _image(b64(GIF_1X1)), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
    BadCase(
        "data uri of text/plain",
        _image("data:text/plain;base64," + b64(b"hello")),
        ErrorCode.UNSUPPORTED_IMAGE_FORMAT,
    ),
    BadCase(
        "image over the byte limit",
        _image(b64(PNG[:16] + os.urandom(1_100_000))),
        ErrorCode.IMAGE_TOO_LARGE,
    ),
    BadCase("10 MB text", _text("x" * (10 << 20)), ErrorCode.TEXT_TOO_LONG),
    BadCase("lone surrogate (escaped in JSON)", LONE_SURROGATE, ErrorCode.INVALID_REQUEST),
    BadCase(
        "lone surrogate with an Idempotency-Key",
        LONE_SURROGATE,
        ErrorCode.INVALID_REQUEST,
        {"Idempotency-Key": "lone-surrogate"},
    ),
    BadCase("empty list", _text(), ErrorCode.EMPTY_INPUT),
    BadCase("empty image list", _image(), ErrorCode.EMPTY_INPUT),
    BadCase("empty string", _text("ok", ""), ErrorCode.EMPTY_INPUT),
    BadCase(
        "mixed: text among images", _image(b64(PNG), "a photo of a dog"), ErrorCode.INVALID_BASE64
    ),
    BadCase("plain text sent as image", _image("a photo of a dog"), ErrorCode.INVALID_BASE64),
    BadCase("unknown modality", {**_text("hi"), "modality": "audio"}, ErrorCode.INVALID_REQUEST),
    BadCase("wrong model id", {**_text("hi"), "model": "gpt-imaginary"}, ErrorCode.MODEL_NOT_FOUND),
    BadCase("too many inputs", _text(*["t"] * 257), ErrorCode.TOO_MANY_INPUTS),
    BadCase("token ids", {"model": "MODEL", "input": [[1, 2, 3]]}, ErrorCode.INVALID_REQUEST),
    BadCase("unknown field", {**_text("hi"), "weights": True}, ErrorCode.INVALID_REQUEST),
    BadCase("wrong dimensions", {**_text("hi"), "dimensions": 7}, ErrorCode.INVALID_REQUEST),
    BadCase("malformed json", b'{"model": "MODEL", "input": ["a"', ErrorCode.INVALID_REQUEST),
    BadCase("body that is not UTF-8", b'{"model": "\xd1"}', ErrorCode.INVALID_REQUEST),
    BadCase("json that is not an object", b'["MODEL", "a"]', ErrorCode.INVALID_REQUEST),
    BadCase(
        "idempotency key too long",
        _text("hi"),
        ErrorCode.INVALID_REQUEST,
        {"Idempotency-Key": "k" * 300},
    ),
]


@pytest.fixture
def client(shared_vendor: VendorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_vendor.base_url, timeout=60) as http:
        yield http


def _encode(body: dict[str, Any] | bytes, model_id: str) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw.replace(b'"MODEL"', json.dumps(model_id).encode())


@pytest.mark.parametrize("case", BAD_CASES, ids=[c.name for c in BAD_CASES])
def test_bad_input_gets_its_4xx_and_charges_nothing(
    case: BadCase,
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
    ledger_redis: redis.Redis,
) -> None:
    key = new_key()
    before = read_key(ledger_redis, shared_vendor.prefix, key.key_id)
    response = client.post(
        "/v1/embeddings",
        content=_encode(case.body, model_id),
        headers={**key.headers, "Content-Type": "application/json", **case.headers},
    )
    assert_wire_error(response, case.code)
    assert read_key(ledger_redis, shared_vendor.prefix, key.key_id) == before


def _post_json(client: httpx.Client, key: Key, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/embeddings", json=body, headers=key.headers)


def test_a_1x1_image_is_an_image(
    client: httpx.Client, new_key: Callable[..., Key], model_id: str
) -> None:
    """1x1 is tiny, not invalid: it is embedded and charged one image, like any other."""
    key = new_key()
    body = {**_image(b64(png_bytes(1, 1))), "model": model_id}
    response = _post_json(client, key, body)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["cost"] == PRICE_PER_IMAGE
    assert len(response.json()["data"]) == 1


@pytest.mark.parametrize(
    "text",
    [
        "nul \x00 inside",
        "\u202eRTL override \u05e9\u05dc\u05d5\u05dd",
        "emoji 🦊🧪👩‍🔬",
        "e\u0301\u0302\u0303",
    ],
    ids=["nul", "rtl", "emoji", "combining"],
)
def test_odd_but_valid_unicode_is_text(
    text: str, client: httpx.Client, new_key: Callable[..., Key], model_id: str
) -> None:
    key = new_key()
    response = _post_json(client, key, {**_text(text), "model": model_id})
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["cost"] == PRICE_PER_TEXT


@pytest.mark.parametrize("shape", [(1, 200_000), (200_000, 1)], ids=["tall", "wide"])
def test_extreme_aspect_ratio_is_embedded_in_bounded_memory(
    shape: tuple[int, int],
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
) -> None:
    """A ~900-byte PNG of 1 x 200000 pixels is within every limit, and a valid image: it is
    sold like any other, and must not make the vendor build a huge intermediate image (shortest
    side to S first would be S x 6.4M pixels here, S x 45M with a 224 px model)."""
    assert shared_vendor.process is not None
    key = new_key()
    raw = png_bytes(*shape)
    assert len(raw) < 2000
    peak_before = peak_rss_mib(shared_vendor.process.pid)
    response = _post_json(client, key, {**_image(b64(raw)), "model": model_id})
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["cost"] == PRICE_PER_IMAGE
    assert peak_rss_mib(shared_vendor.process.pid) - peak_before < 100


def test_image_bytes_declared_as_text_are_sold_as_text(
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
    ledger_redis: redis.Redis,
) -> None:
    """The caller's `modality` decides: a base64 PNG sent as text is a (strange) text.

    The vendor cannot tell a base64-looking string from text, and must never bill it at the
    image price or embed it as an image; it is embedded by the text tower at the text price.
    """
    key = new_key()
    response = _post_json(client, key, {**_text(b64(png_bytes(4, 4))), "model": model_id})
    assert response.status_code == 200, response.text
    assert response.json()["usage"] | {"budget_remaining": 0} == {
        "prompt_tokens": 1,
        "total_tokens": 1,
        "images": 0,
        "texts": 1,
        "cost": PRICE_PER_TEXT,
        "budget_remaining": 0,
    }
    ledger = read_key(ledger_redis, shared_vendor.prefix, key.key_id)
    assert (ledger.images, ledger.texts, ledger.spent) == (0, 1, PRICE_PER_TEXT)


def test_body_over_the_limit_by_content_length(
    client: httpx.Client, new_key: Callable[..., Key]
) -> None:
    key = new_key()
    response = client.post(
        "/v1/embeddings",
        content=b"x" * (3 * BODY_LIMIT),
        headers={**key.headers, "Content-Type": "application/json"},
    )
    assert_wire_error(response, ErrorCode.BODY_TOO_LARGE)


def test_body_over_the_limit_streamed_without_content_length(
    client: httpx.Client,
    new_key: Callable[..., Key],
    shared_vendor: VendorProcess,
    ledger_redis: redis.Redis,
) -> None:
    """A chunked upload has no Content-Length: the limit must hold while the body streams."""
    key = new_key()

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "m", "input": ["'
        for _ in range(3 * BODY_LIMIT // (1 << 20)):
            yield b"x" * (1 << 20)
        yield b'"]}'

    response = client.post(
        "/v1/embeddings",
        content=chunks(),
        headers={**key.headers, "Content-Type": "application/json"},
    )
    assert_wire_error(response, ErrorCode.BODY_TOO_LARGE)
    assert read_key(ledger_redis, shared_vendor.prefix, key.key_id).spent == 0
