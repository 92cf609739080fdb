"""A tiny DomainBed folder tree of random PNGs, for tests that must run in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DATASET = "TINY"
DOMAINS = ("alpha", "beta", "gamma")
CLASSES = ("big_cat", "dog", "red_car")


def make_tree(
    root: Path, per_class: int = 6, size: int = 32, domains: tuple[str, ...] = DOMAINS
) -> Path:
    """Each class a base colour, each domain a tint, each image noise on top; returns root."""
    rng = np.random.default_rng(0)
    for d, domain in enumerate(domains):
        for c, name in enumerate(CLASSES):
            folder = root / DATASET / domain / name
            folder.mkdir(parents=True, exist_ok=True)
            base = np.zeros(3)
            base[c] = 200.0
            tint = 40.0 * d
            for i in range(per_class):
                noise = rng.normal(0, 30, size=(size, size, 3))
                pixels = np.clip(base + tint + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / f"{i:03d}.png")
    return root
