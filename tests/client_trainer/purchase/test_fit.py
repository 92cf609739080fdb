"""Images fitted to the vendor's limits: what the vendor takes as it is goes byte for byte;
the rest comes out within both limits, decodable by the vendor's own codec, the same bytes
every time, with high bit depths scaled rather than clipped."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client_trainer.purchase.fit import (
    ImageFitError,
    fit_descriptor,
    fit_image,
    limits_of,
    sendable,
    within_pixels,
)
from shared.codec import ImageLimits, decode_image
from shared.schemas import ModelCard

LIMITS = ImageLimits(max_bytes=20_000, max_pixels=100 * 100)


def _encoded(
    pixels: np.ndarray, fmt: str = "JPEG", mode: str | None = None, **options: object
) -> bytes:
    image = Image.fromarray(pixels)
    if mode is not None:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _smooth(height: int, width: int) -> np.ndarray:
    ramp = np.linspace(0, 255, width, dtype=np.float64)[None, :, None]
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8)


def test_what_the_vendor_takes_as_it_is_is_sent_as_it_is() -> None:
    assert sendable(_encoded(_smooth(40, 60)), LIMITS)
    assert sendable(_encoded(_smooth(40, 60), mode="CMYK"), LIMITS)  # the vendor converts it
    assert sendable(_encoded(_smooth(40, 60), "PNG", mode="P"), LIMITS)
    assert not sendable(_encoded(_noise(90, 90), quality=100, subsampling=0), LIMITS)  # bytes
    assert not sendable(_encoded(_smooth(80, 200)), LIMITS)  # pixels
    assert not sendable(_encoded(_smooth(40, 60), "BMP"), LIMITS)  # format
    sixteen = Image.fromarray(_smooth(40, 60)[..., 0].astype(np.uint16) * 257)
    buffer = io.BytesIO()
    sixteen.save(buffer, format="PNG")
    assert not sendable(buffer.getvalue(), LIMITS)  # the vendor would clip it to white


@pytest.mark.parametrize(
    "raw",
    [
        _encoded(_noise(90, 90), quality=100, subsampling=0),
        _encoded(_noise(300, 200), quality=95),
        _encoded(_smooth(80, 200), mode="CMYK"),
        _encoded(_noise(120, 120), "PNG", mode="P"),
        _encoded(_noise(60, 70), "BMP"),
    ],
    ids=["bytes", "bytes-and-pixels", "cmyk-pixels", "palette-png", "bmp"],
)
def test_a_fitted_image_is_within_both_limits_and_the_same_every_time(raw: bytes) -> None:
    fitted = fit_image(raw, LIMITS)
    assert len(fitted) <= LIMITS.max_bytes
    assert decode_image(fitted, LIMITS).mode == "RGB"  # the vendor's own checks pass
    assert fit_image(raw, LIMITS) == fitted


def test_downscaling_keeps_the_aspect_within_the_pixel_limit() -> None:
    assert within_pixels((80, 60), 100 * 100) == (80, 60)
    width, height = within_pixels((400, 100), 100 * 100)
    assert width * height <= 100 * 100 and (width, height) == (200, 50)
    width, height = within_pixels((1001, 333), 5_000)
    assert width * height <= 5_000 and abs(width / height - 1001 / 333) < 0.05
    fitted = Image.open(io.BytesIO(fit_image(_encoded(_smooth(100, 400)), LIMITS)))
    assert fitted.size == (200, 50)


def test_a_sixteen_bit_image_is_scaled_to_eight_bits_not_clipped() -> None:
    values = np.full((30, 40), 100 * 257, dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format="PNG")
    fitted = Image.open(io.BytesIO(fit_image(buffer.getvalue(), LIMITS)))
    assert fitted.format == "PNG" and fitted.mode == "RGB"  # lossless source, lossless out
    assert np.array_equal(np.asarray(fitted), np.full((30, 40, 3), 100, dtype=np.uint8))


def test_a_jpeg_source_comes_out_as_a_jpeg() -> None:
    fitted = fit_image(_encoded(_noise(90, 90), quality=100, subsampling=0), LIMITS)
    assert fitted.startswith(b"\xff\xd8\xff")


def test_what_cannot_fit_or_be_read_is_a_clear_error() -> None:
    with pytest.raises(ImageFitError, match="fits in 50 bytes"):
        fit_image(_encoded(_noise(20, 20)), ImageLimits(max_bytes=50, max_pixels=10_000))
    with pytest.raises(ImageFitError, match="not a readable image"):
        sendable(b"\xff\xd8\xff" + b"\0" * 100, LIMITS)


def test_the_limits_come_from_the_model_card_and_name_the_recipe() -> None:
    card = ModelCard(
        id="m", embedding_dim=8, image_size=32, context_length=77, price_per_image=10,
        price_per_text=1, max_inputs_per_request=64, max_image_bytes=5_000,
        max_image_pixels=900, max_text_chars=300,
    )  # fmt: skip
    assert limits_of(card) == ImageLimits(max_bytes=5_000, max_pixels=900)
    unstated = limits_of(card.model_copy(update={"max_image_pixels": None}))
    assert unstated.max_pixels == ImageLimits().max_pixels
    assert fit_descriptor(limits_of(card)) != fit_descriptor(unstated)
