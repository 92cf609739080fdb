"""Images fitted to the vendor's limits before they are sent, instead of a 413 that stops the
purchase.

`/v1/models` states `max_image_bytes` and `max_image_pixels`. A file the vendor takes as it is
(PNG, JPEG or WebP, within both limits, in a mode the vendor turns into RGB faithfully) is sent
byte for byte. Any other file is fitted, deterministically: decoded to RGB (CMYK, palette and
grayscale as the vendor converts them; 16-bit and float images scaled to 8 bits, where the
vendor's conversion would clip them to white), downscaled keeping its aspect until it is within
the pixel limit, then encoded as PNG (unless it came as a JPEG) and as JPEG at falling quality
until it is within the byte limit, shrinking it further when even the lowest quality is not.

The cache key of a fitted image hashes the file's bytes with the recipe's version and the two
limits (`fit_descriptor`): computing it never re-encodes anything, and the same file under the
same limits always sends the same bytes, so a second run finds it in the cache.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image

from client_trainer.data.domainbed import DataError
from shared.codec import ImageLimits, sniff_format
from shared.schemas import ModelCard

FIT_VERSION = "fit:v1"  # bump when the recipe below changes what is sent
JPEG_QUALITIES = (95, 90, 80, 70, 55, 40)
SHRINK = 0.75  # each round past the lowest quality scales both sides by this
# Modes the vendor's own `convert("RGB")` renders faithfully; others are fitted here.
FAITHFUL_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX",
                            "CMYK", "YCbCr"})  # fmt: skip
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


class ImageFitError(DataError):
    """An image that cannot be read, or cannot be made to fit the vendor's limits."""


def limits_of(card: ModelCard) -> ImageLimits:
    """The vendor's image limits; a vendor that does not state a pixel limit gets the
    contract's default."""
    pixels = card.max_image_pixels or ImageLimits().max_pixels
    return ImageLimits(max_bytes=card.max_image_bytes, max_pixels=pixels)


def fit_descriptor(limits: ImageLimits) -> str:
    return f"{FIT_VERSION}:{limits.max_bytes}:{limits.max_pixels}"


def _open(raw: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(raw))
    except Exception as exc:  # PIL raises many types for what it cannot read
        raise ImageFitError(f"not a readable image ({exc.__class__.__name__}: {exc})") from exc


def sendable(raw: bytes, limits: ImageLimits) -> bool:
    """Whether the vendor takes these bytes as they are (reads the header only)."""
    if sniff_format(raw) is None or len(raw) > limits.max_bytes:
        return False
    with _open(raw) as image:
        width, height = image.size
        return width * height <= limits.max_pixels and image.mode in FAITHFUL_MODES


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: high bit depths scaled down (not clipped), every other mode converted."""
    if image.mode in (*_SIXTEEN_BIT, "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode in _SIXTEEN_BIT or (image.mode == "I" and values.max(initial=0) > 255):
            values = values / 257.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    return image.convert("RGB")


def within_pixels(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """The largest size of the same aspect (rounded down) with at most `max_pixels`."""
    width, height = size
    if width * height <= max_pixels:
        return size
    scale = math.sqrt(max_pixels / (width * height))
    width, height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while width * height > max_pixels:  # rounding: step the longer side down
        width, height = (width - 1, height) if width >= height else (width, height - 1)
    return width, height


Encoding = tuple[str, dict[str, object]]  # PIL format name and its save options


def _encodings(lossless: bool) -> list[Encoding]:
    jpegs: list[Encoding] = [("JPEG", {"quality": q, "optimize": False}) for q in JPEG_QUALITIES]
    return [("PNG", {"compress_level": 6}), *jpegs] if lossless else jpegs


def _encode(image: Image.Image, fmt: str, options: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def fit_image(raw: bytes, limits: ImageLimits) -> bytes:
    """Bytes the vendor takes for this image (see the module's docstring); the same input and
    limits always give the same bytes."""
    with _open(raw) as image:
        lossless = image.format != "JPEG"
        try:
            rgb = to_rgb(image)
        except Exception as exc:  # truncated or corrupt past the header
            raise ImageFitError(f"image could not be decoded ({exc})") from exc
    size = within_pixels(rgb.size, limits.max_pixels)
    while True:
        scaled = rgb if size == rgb.size else rgb.resize(size, Image.Resampling.LANCZOS)
        for fmt, options in _encodings(lossless):
            encoded = _encode(scaled, fmt, options)
            if len(encoded) <= limits.max_bytes:
                return encoded
        smaller = (max(1, int(size[0] * SHRINK)), max(1, int(size[1] * SHRINK)))
        if smaller == size:
            raise ImageFitError(f"no encoding of the image fits in {limits.max_bytes} bytes")
        size = smaller
