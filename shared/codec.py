"""Image and embedding codecs of the wire contract, with their limits.

Images travel as base64 (optionally a `data:image/<fmt>;base64,` URI) of PNG, JPEG or WebP
bytes. Decoding checks, in order: base64, format (by magic bytes, not by what the caller
claims), encoded size, declared pixel count (before any pixel is decoded: no decompression
bomb gets past the header), then a full decode (truncation is caught here).
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

SUPPORTED_FORMATS = ("png", "jpeg", "webp")
_DATA_URI_PREFIX = "data:"


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 1 << 20  # encoded bytes of one image
    max_pixels: int = 4096 * 4096  # width * height as declared by the header


class CodecError(ValueError):
    """An input that cannot become an image; `code` is an `ErrorCode` value."""

    code = "invalid_image"


class InvalidBase64(CodecError):
    code = "invalid_base64"


class UnsupportedFormat(CodecError):
    code = "unsupported_image_format"


class ImageTooLarge(CodecError):
    code = "image_too_large"


class DimensionsTooLarge(CodecError):
    code = "image_dimensions_too_large"


class InvalidImage(CodecError):
    code = "invalid_image"


def sniff_format(data: bytes) -> str | None:
    """Format from magic bytes: 'png', 'jpeg', 'webp' or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _strip_data_uri(payload: str) -> str:
    if not payload.startswith(_DATA_URI_PREFIX):
        return payload
    header, sep, rest = payload.partition(",")
    if not sep or not header.endswith(";base64"):
        raise InvalidBase64("a data URI must look like data:image/png;base64,<data>")
    if not header[len(_DATA_URI_PREFIX) :].startswith("image/"):
        raise UnsupportedFormat(f"data URI media type {header[5:-7]!r} is not an image")
    return rest


def payload_to_bytes(payload: str, max_bytes: int) -> bytes:
    """Base64 (or data URI) -> raw bytes, refusing oversize input before decoding it."""
    text = _strip_data_uri(payload.strip())
    if len(text) > (max_bytes * 4) // 3 + 4:
        raise ImageTooLarge(f"image is over the limit of {max_bytes} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64("input is not valid base64") from exc
    if not raw:
        raise InvalidImage("image is empty (0 bytes)")
    if len(raw) > max_bytes:
        raise ImageTooLarge(f"image is {len(raw)} bytes, over the limit of {max_bytes}")
    return raw


def decode_image(raw: bytes, limits: ImageLimits) -> Image.Image:
    """Raw encoded bytes -> RGB PIL image, or a `CodecError` that says why not."""
    fmt = sniff_format(raw)
    if fmt is None:
        raise UnsupportedFormat(f"not a {', '.join(SUPPORTED_FORMATS)} image")
    if len(raw) > limits.max_bytes:
        raise ImageTooLarge(f"image is {len(raw)} bytes, over the limit of {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=[fmt.upper()])
            width, height = image.size
            if width < 1 or height < 1:
                raise InvalidImage("image has no pixels")
            if width * height > limits.max_pixels:
                raise DimensionsTooLarge(
                    f"image is {width}x{height} pixels, over the limit of {limits.max_pixels}"
                )
            image.load()
    except CodecError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DimensionsTooLarge("image dimensions are too large") from exc
    except Exception as exc:  # PIL raises many types for corrupt data
        raise InvalidImage(f"{fmt} image could not be decoded (truncated or corrupt)") from exc
    return image.convert("RGB") if image.mode != "RGB" else image


def decode_image_payload(payload: str, limits: ImageLimits) -> Image.Image:
    return decode_image(payload_to_bytes(payload, limits.max_bytes), limits)


def encode_png(image: Image.Image | np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB image (uint8 HxWx3 array or PIL image)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def to_base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def to_data_uri(raw: bytes) -> str:
    fmt = sniff_format(raw) or "png"
    return f"data:image/{fmt};base64,{to_base64(raw)}"


def embedding_to_base64(vector: np.ndarray) -> str:
    """float32 little-endian bytes, base64 (the openai SDK's `encoding_format='base64'`)."""
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def embedding_from_base64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)
