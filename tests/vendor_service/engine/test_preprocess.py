"""Our numpy preprocessing against open_clip's own transform."""

from __future__ import annotations

import numpy as np
import open_clip
import torch
from PIL import Image

from vendor_service.engine.model_configs import register_model_configs
from vendor_service.engine.preprocess import ClipPreprocess


def test_matches_open_clip_transform_closely() -> None:
    register_model_configs()
    _, _, transform = open_clip.create_model_and_transforms("tiny-clip-test", pretrained=None)
    rng = np.random.default_rng(0)
    smooth = rng.integers(0, 255, (6, 9, 3), dtype=np.uint8)
    image = Image.fromarray(smooth).resize((90, 60), Image.Resampling.BILINEAR)
    pre = ClipPreprocess(32)
    ours = pre.normalize(pre(image)[None])[0]
    theirs = transform(image)
    assert ours.shape == theirs.shape == (3, 32, 32)
    # Same recipe (shortest side, bicubic, centre crop, normalise); resamplers differ slightly.
    assert torch.mean(torch.abs(ours - theirs)).item() < 0.05


def test_exact_size_image_is_only_normalised() -> None:
    pixels = np.full((32, 32, 3), 255, dtype=np.uint8)
    pre = ClipPreprocess(32)
    raw = pre(Image.fromarray(pixels))
    assert raw.dtype == torch.uint8 and bool((raw == 255).all())
    out = pre.normalize(raw[None])[0]
    expected = (1.0 - 0.48145466) / 0.26862954
    torch.testing.assert_close(out[0], torch.full((32, 32), expected))


def test_a_grey_image_becomes_rgb() -> None:
    out = ClipPreprocess(8)(Image.new("L", (8, 8), 128))
    assert out.shape == (3, 8, 8) and bool((out == 128).all())
