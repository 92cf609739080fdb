"""Cheap random fields the styles paint with: smooth noise, brush streaks, anti-aliased masks."""

from __future__ import annotations

import numpy as np
from PIL import Image

Array = np.ndarray


def smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> Array:
    """Low-frequency noise in about [-1, 1]: a `cells`-wide random grid, bilinearly upsampled."""
    planes = []
    for _ in range(channels):
        grid = rng.standard_normal((cells, cells)).astype(np.float32)
        img = Image.fromarray(grid, mode="F").resize((size, size), Image.Resampling.BILINEAR)
        planes.append(np.asarray(img))
    return np.stack(planes, axis=-1) if channels > 1 else planes[0]


def streaks(rng: np.random.Generator, size: int, length: int) -> Array:
    """Brush-like anisotropic noise: random values stretched `length` pixels along one axis."""
    grid = rng.standard_normal((size, max(1, size // length))).astype(np.float32)
    img = np.asarray(
        Image.fromarray(grid, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    )
    return img.T.copy() if rng.random() < 0.5 else img


def fill_alpha(dist: Array, soft: float) -> Array:
    """Anti-aliased coverage of the inside of a shape, `soft` = width of the ramp."""
    return np.clip(0.5 - dist / soft, 0.0, 1.0)


def stroke_alpha(dist: Array, width: float, soft: float) -> Array:
    """Anti-aliased coverage of a stroke of half-width `width` along the outline."""
    return np.clip(0.5 - (np.abs(dist) - width) / soft, 0.0, 1.0)


def over(canvas: Array, colour: Array, alpha: Array) -> Array:
    """Paint `colour` (RGB or per-pixel RGB) over `canvas` with coverage `alpha`."""
    a = alpha[..., None]
    return canvas * (1.0 - a) + colour * a


def blur(img: Array, radius: float) -> Array:
    """Gaussian blur of an RGB float image in [0, 1]."""
    from PIL import ImageFilter

    u8 = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return np.asarray(u8.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0
