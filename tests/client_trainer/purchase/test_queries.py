"""Image query keys: a file the vendor takes as it is keys by its exact bytes; a fitted file
keys by its bytes with the fit's recipe and limits, so other limits are another query."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from client_trainer.purchase.fit import fit_descriptor, fit_image
from client_trainer.purchase.queries import image_file_query, pixels_query
from shared.codec import ImageLimits, encode_png, to_base64
from shared.hashing import content_key

LIMITS = ImageLimits(max_bytes=20_000, max_pixels=100 * 100)


def _jpeg(path: Path, height: int, width: int, **options: object) -> Path:
    rng = np.random.default_rng(height * width)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        path, format="JPEG", **options
    )
    return path


def _payload(query_payload: object) -> str:
    return query_payload() if callable(query_payload) else str(query_payload)


def test_a_file_within_the_limits_is_keyed_and_sent_by_its_exact_bytes(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "small.jpg", 20, 30)
    query = image_file_query("m", path, LIMITS)
    assert query.key == content_key("m", "image", path.read_bytes())
    assert _payload(query.payload) == to_base64(path.read_bytes())


def test_a_fitted_file_is_keyed_by_its_bytes_the_recipe_and_the_limits(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "big.jpg", 200, 120, quality=100, subsampling=0)
    query = image_file_query("m", path, LIMITS)
    raw = path.read_bytes()
    assert query.key == content_key("m", "image", raw, fit_descriptor(LIMITS))
    assert _payload(query.payload) == to_base64(fit_image(raw, LIMITS))
    looser = ImageLimits(max_bytes=30_000, max_pixels=LIMITS.max_pixels)
    assert image_file_query("m", path, looser).key != query.key


def test_a_view_over_the_limits_is_fitted_under_its_own_key() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (3, 120, 120), dtype=np.uint8)
    view = torch.from_numpy(pixels)
    png = encode_png(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
    roomy = pixels_query("m", view, "view:v1:120:0:0", ImageLimits())
    assert roomy.key == content_key("m", "image", png, "view:v1:120:0:0")
    tight = pixels_query("m", view, "view:v1:120:0:0", LIMITS)
    assert tight.key != roomy.key
    sent = Image.open(io.BytesIO(base64.b64decode(_payload(tight.payload))))
    assert sent.size[0] * sent.size[1] <= LIMITS.max_pixels
