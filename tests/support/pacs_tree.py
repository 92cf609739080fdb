"""A small JPEG tree laid out as PACS: its real domain and class names, images as a real
download has them (varied sizes, some grayscale, some CMYK, one JPEG over the vendor's default
byte limit), every file's bytes distinct."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DATASET = "PACS"
DOMAINS = ("art_painting", "cartoon", "photo", "sketch")
CLASSES = ("dog", "elephant", "giraffe", "guitar", "horse", "house", "person")
SIZES = ((227, 227), (40, 56), (64, 48), (33, 33), (96, 80))  # PACS is 227 px; others vary
VENDOR_MAX_IMAGE_BYTES = 1 << 20  # the vendor's default max_image_bytes
# (domain, class, n) of the one file over it: a camera-sized photo, sent fitted to the limit.
OVERSIZED = ("photo", "giraffe", 0)
OVERSIZED_SIZE = (640, 480)


def _pixels(rng: np.random.Generator, size: tuple[int, int], c: int, d: int) -> np.ndarray:
    """A class colour, a domain tint, and noise (so no two files share their bytes)."""
    width, height = size
    base = np.zeros(3)
    base[c % 3] = 120.0 + 15.0 * c
    noise = rng.normal(0, 25, size=(height, width, 3))
    return np.clip(base + 30.0 * d + noise, 0, 255).astype(np.uint8)


def _save_oversized(rng: np.random.Generator, path: Path) -> None:
    """Full-range noise at quality 100 without chroma subsampling: ~1.2 MB, over the limit."""
    width, height = OVERSIZED_SIZE
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(path, quality=100, subsampling=0)
    assert path.stat().st_size > VENDOR_MAX_IMAGE_BYTES, "the oversized JPEG came out small"


def make_pacs_tree(root: Path, per_class: int = 2, seed: int = 0) -> Path:
    """root/PACS/<domain>/<class>/<n>.jpg; per domain one grayscale and one CMYK file; one
    file (`OVERSIZED`) over the vendor's byte limit."""
    rng = np.random.default_rng(seed)
    n = 0
    for d, domain in enumerate(DOMAINS):
        for c, name in enumerate(CLASSES):
            folder = root / DATASET / domain / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                path = folder / f"pic_{i:03d}.jpg"
                n += 1
                if (domain, name, i) == OVERSIZED:
                    _save_oversized(rng, path)
                    continue
                image = Image.fromarray(_pixels(rng, SIZES[(n - 1) % len(SIZES)], c, d), "RGB")
                if (c, i) == (0, 0):
                    image = image.convert("L")  # sketches and scans come as grayscale
                elif (c, i) == (1, 0):
                    image = image.convert("CMYK")  # print scans come as CMYK JPEGs
                image.save(path, quality=90)
    return root


def oversized_path(root: Path) -> Path:
    domain, name, i = OVERSIZED
    return root / DATASET / domain / name / f"pic_{i:03d}.jpg"


def image_count(per_class: int = 2) -> int:
    return len(DOMAINS) * len(CLASSES) * per_class
