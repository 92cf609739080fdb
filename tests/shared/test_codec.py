from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from shared import codec
from shared.codec import ImageLimits

LIMITS = ImageLimits(max_bytes=1 << 20, max_pixels=512 * 512)


def _image_bytes(fmt: str, size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_supported_formats_decode_to_rgb(fmt: str) -> None:
    raw = _image_bytes(fmt)
    image = codec.decode_image_payload(codec.to_base64(raw), LIMITS)
    assert image.mode == "RGB" and image.size == (8, 6)


def test_data_uri_is_accepted() -> None:
    raw = _image_bytes("PNG")
    assert codec.decode_image_payload(codec.to_data_uri(raw), LIMITS).size == (8, 6)


def test_grey_and_alpha_images_become_rgb() -> None:
    buffer = io.BytesIO()
    Image.new("LA", (4, 4)).save(buffer, format="PNG")
    assert codec.decode_image(buffer.getvalue(), LIMITS).mode == "RGB"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("not base64 !!", codec.InvalidBase64),
        ("", codec.InvalidImage),
        (base64.b64encode(b"hello world, not an image").decode(), codec.UnsupportedFormat),
        (base64.b64encode(_image_bytes("GIF")).decode(), codec.UnsupportedFormat),
        (base64.b64encode(_image_bytes("PNG")[:40]).decode(), codec.InvalidImage),
        ("data:text/plain;base64,aGVsbG8=", codec.UnsupportedFormat),
        ("data:image/png,xyz", codec.InvalidBase64),
    ],
)
def test_bad_payloads_raise_typed_errors(payload: str, error: type[codec.CodecError]) -> None:
    with pytest.raises(error):
        codec.decode_image_payload(payload, LIMITS)


def test_oversize_bytes_are_refused_before_decoding() -> None:
    raw = _image_bytes("PNG", (64, 64))
    with pytest.raises(codec.ImageTooLarge):
        codec.decode_image_payload(codec.to_base64(raw), ImageLimits(max_bytes=50))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_by_header() -> None:
    with pytest.raises(codec.DimensionsTooLarge):
        codec.decode_image(_png_header_only(100_000, 100_000), LIMITS)


def test_embedding_base64_roundtrip() -> None:
    vector = np.random.default_rng(0).standard_normal(17).astype(np.float32)
    assert np.array_equal(codec.embedding_from_base64(codec.embedding_to_base64(vector)), vector)


def test_encode_png_is_lossless() -> None:
    pixels = np.random.default_rng(1).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    decoded = codec.decode_image(codec.encode_png(pixels), LIMITS)
    assert np.array_equal(np.asarray(decoded), pixels)
