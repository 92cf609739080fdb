"""A picture of sample images: one row per style, one column per class (for the README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from shared.world.config import ALL_CLASSES, ALL_STYLES, GRID_STREAM
from shared.world.render import render


def sample_grid(
    path: Path,
    styles: tuple[str, ...] = ALL_STYLES,
    classes: tuple[str, ...] = ALL_CLASSES,
    image_size: int = 64,
    zoom: int = 2,
    seed: int = 0,
) -> Path:
    """Write a PNG grid of one random instance per (style, class); returns `path`."""
    rows = []
    for s, style in enumerate(styles):
        row = [
            render(name, style, image_size, np.random.default_rng([seed, GRID_STREAM, s, c])).image
            for c, name in enumerate(classes)
        ]
        rows.append(np.concatenate(row, axis=1))
    grid = Image.fromarray(np.concatenate(rows, axis=0))
    grid = grid.resize((grid.width * zoom, grid.height * zoom), Image.Resampling.NEAREST)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return Path(path)
