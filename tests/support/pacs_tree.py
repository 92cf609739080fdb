"""A small JPEG tree laid out as PACS: its real domain and class names, images as a real
download has them (varied sizes, some grayscale, some CMYK), every file's bytes distinct."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DATASET = "PACS"
DOMAINS = ("art_painting", "cartoon", "photo", "sketch")
CLASSES = ("dog", "elephant", "giraffe", "guitar", "horse", "house", "person")
SIZES = ((227, 227), (40, 56), (64, 48), (33, 33), (96, 80))  # PACS is 227 px; others vary


def _pixels(rng: np.random.Generator, size: tuple[int, int], c: int, d: int) -> np.ndarray:
    """A class colour, a domain tint, and noise (so no two files share their bytes)."""
    width, height = size
    base = np.zeros(3)
    base[c % 3] = 120.0 + 15.0 * c
    noise = rng.normal(0, 25, size=(height, width, 3))
    return np.clip(base + 30.0 * d + noise, 0, 255).astype(np.uint8)


def make_pacs_tree(root: Path, per_class: int = 2, seed: int = 0) -> Path:
    """root/PACS/<domain>/<class>/<n>.jpg; per domain one grayscale and one CMYK file."""
    rng = np.random.default_rng(seed)
    n = 0
    for d, domain in enumerate(DOMAINS):
        for c, name in enumerate(CLASSES):
            folder = root / DATASET / domain / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                image = Image.fromarray(_pixels(rng, SIZES[n % len(SIZES)], c, d), "RGB")
                if (c, i) == (0, 0):
                    image = image.convert("L")  # sketches and scans come as grayscale
                elif (c, i) == (1, 0):
                    image = image.convert("CMYK")  # print scans come as CMYK JPEGs
                image.save(folder / f"pic_{i:03d}.jpg", quality=90)
                n += 1
    return root


def image_count(per_class: int = 2) -> int:
    return len(DOMAINS) * len(CLASSES) * per_class
