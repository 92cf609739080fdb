"""Preprocessing never builds an image larger than its S x S output (no aspect-ratio bomb)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vendor_service.engine.preprocess import ClipPreprocess


def _resize_then_crop(image: Image.Image, size: int) -> torch.Tensor:
    """The textbook recipe (shortest side to S, then centre crop), as a reference."""
    width, height = image.size
    ratio = size / min(width, height)
    new_w, new_h = max(size, round(width * ratio)), max(size, round(height * ratio))
    resized = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    cropped = resized.crop((left, top, left + size, top + size))
    pixels = np.asarray(cropped, dtype=np.uint8).transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(pixels))


@pytest.mark.parametrize("shape", [(90, 60), (60, 90), (300, 200), (33, 500), (64, 64), (20, 7)])
def test_same_pixels_as_resize_then_crop(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    coarse = Image.fromarray(rng.integers(0, 255, (7, 5, 3), dtype=np.uint8))
    image = coarse.resize(shape, Image.Resampling.BILINEAR)
    torch.testing.assert_close(
        ClipPreprocess(32)(image).int(), _resize_then_crop(image, 32).int(), atol=1, rtol=0
    )


@pytest.mark.parametrize("shape", [(1, 20_000), (20_000, 1), (3, 9_000)])
def test_extreme_aspect_ratio_stays_within_the_output_size(
    shape: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 x 20000 image resized on its short side first would be 224 x 4.5M pixels (3 GB)."""
    largest: list[int] = [0]
    resize = Image.Image.resize

    def spy(
        self: Image.Image, size: tuple[int, int], *args: object, **kwargs: object
    ) -> Image.Image:
        largest[0] = max(largest[0], size[0] * size[1])
        if largest[0] > 4 * 224 * 224:  # refuse to actually allocate the bomb
            raise AssertionError(f"resize to {size} pixels asked for")
        return resize(self, size, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "resize", spy)
    out = ClipPreprocess(224)(Image.new("RGB", shape, (10, 200, 30)))  # raises on a bomb
    assert out.shape == (3, 224, 224)
    assert largest[0] <= 224 * 224
