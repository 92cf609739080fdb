"""The client keeps to the limits `/v1/models` states, against a live vendor that has small
ones: an image over the byte or pixel limit (or in a form the vendor cannot read faithfully)
is fitted and bought, charged once, and found in the cache by the next run; no request holds
more inputs than the vendor takes; a request refused for its body size is sent as halves."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
from PIL import Image

from client_trainer.config import TeacherConfig
from client_trainer.purchase.session import TeacherSession
from shared.codec import ImageLimits
from shared.errors import ErrorBody
from tests.support.live_vendor import LiveVendor, live_vendor
from tests.support.redis import delete_prefix

PRICE = 10
MAX_BYTES, MAX_PIXELS, MAX_INPUTS, MAX_BODY = 20_000, 100 * 100, 3, 48_000


@pytest.fixture(scope="module")
def small_vendor(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVendor]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    limits = {
        "VENDOR_MAX_IMAGE_BYTES": str(MAX_BYTES),
        "VENDOR_MAX_IMAGE_PIXELS": str(MAX_PIXELS),
        "VENDOR_MAX_INPUTS_PER_REQUEST": str(MAX_INPUTS),
        "VENDOR_MAX_BODY_BYTES": str(MAX_BODY),
    }
    try:
        with live_vendor(redis_url, prefix, tmp_path_factory.mktemp("vendor"), limits) as vendor:
            yield vendor
    finally:
        delete_prefix(redis_url, prefix)


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to the vendor; keeps (inputs, status, error code) of each embedding request."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.requests: list[tuple[int, int, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path == "/v1/embeddings":
            inputs = len(orjson.loads(request.content)["input"])
            content = await response.aread()
            code = (
                None if response.is_success else ErrorBody.model_validate_json(content).error.code
            )
            self.requests.append((inputs, response.status_code, code))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _save(
    path: Path, pixels: np.ndarray, fmt: str, mode: str | None = None, **options: object
) -> Path:
    image = Image.fromarray(pixels)
    (image.convert(mode) if mode else image).save(path, format=fmt, **options)
    return path


def _noise(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _awkward_files(folder: Path) -> list[Path]:
    """Small files the vendor takes as they are, and four it cannot: over the bytes, over the
    pixels, 16-bit, and BMP."""
    plain = [_save(folder / f"small{i}.jpg", _noise(24, 32, i), "JPEG") for i in range(4)]
    cmyk = _save(folder / "cmyk.jpg", _noise(30, 20, 9), "JPEG", "CMYK")
    heavy = _save(folder / "heavy.jpg", _noise(90, 90, 10), "JPEG", quality=100, subsampling=0)
    wide = _save(folder / "wide.jpg", _noise(60, 400, 11) // 8 + 100, "JPEG", quality=50)
    deep = folder / "deep.png"
    Image.fromarray(np.full((20, 30), 200 * 257, dtype=np.uint16)).save(deep)
    bmp = _save(folder / "plain.bmp", _noise(20, 20, 12), "BMP")
    assert heavy.stat().st_size > MAX_BYTES and wide.stat().st_size < MAX_BYTES
    return [*plain, heavy, cmyk, wide, deep, bmp]


def _session(vendor: LiveVendor, api_key: str, redis_url: str, prefix: str, run: str,
             transport: httpx.AsyncBaseTransport) -> TeacherSession:  # fmt: skip
    config = TeacherConfig.model_validate(
        {
            "vendor_url": vendor.base_url,
            "api_key": api_key,
            "redis_url": redis_url,
            "redis_prefix": prefix,
        }
    )
    return TeacherSession(config, run, transport=transport)


def test_images_over_the_limits_are_fitted_bought_once_and_cached(
    small_vendor: LiveVendor, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    key_id, api_key = small_vendor.create_key(10_000)
    files = _awkward_files(tmp_path)
    first = Recorder()
    with _session(small_vendor, api_key, redis_url, redis_prefix, "first", first) as session:
        assert session.limits() == ImageLimits(max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
        bought = session.images(files, "images")
        record = session.record()
    assert bought.shape[0] == len(files) and record.images == len(files)
    assert all(status == 200 for _, status, _ in first.requests), first.requests
    assert max(inputs for inputs, _, _ in first.requests) <= MAX_INPUTS
    assert len(first.requests) == math.ceil(len(files) / MAX_INPUTS)
    assert small_vendor.key_info(key_id)["spent"] == len(files) * PRICE  # each charged once

    again = Recorder()
    with _session(small_vendor, api_key, redis_url, redis_prefix, "second", again) as session:
        cached = session.images(files, "images")
        record = session.record()
    assert again.requests == [] and (record.images, record.image_hits) == (0, len(files))
    assert np.array_equal(cached.numpy(), bought.numpy())
    assert small_vendor.key_info(key_id)["spent"] == len(files) * PRICE


def test_a_request_refused_for_its_body_size_is_bought_as_halves(
    small_vendor: LiveVendor, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    key_id, api_key = small_vendor.create_key(10_000)
    files = [_save(tmp_path / f"n{i}.jpg", _noise(56, 56, 20 + i), "JPEG", quality=100,
                   subsampling=0) for i in range(3)]  # fmt: skip
    sizes = [f.stat().st_size for f in files]
    assert sum(sizes) * 4 / 3 > MAX_BODY > max(sizes) * 2 * 4 / 3 + 1000  # 3 too big, 2 fit
    recorder = Recorder()
    with _session(small_vendor, api_key, redis_url, redis_prefix, "halves", recorder) as session:
        session.images(files, "images")
        assert session.record().images == 3
    assert recorder.requests[0] == (3, 413, "body_too_large")
    assert sorted(r[:2] for r in recorder.requests[1:]) == [(1, 200), (2, 200)]
    assert small_vendor.key_info(key_id)["spent"] == 3 * PRICE
