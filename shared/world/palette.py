"""Named colours: the words captions use and the RGB values renderers start from."""

from __future__ import annotations

import numpy as np

# name -> RGB in [0, 1]; renderers perturb these, so a "red" instance is one of many reds
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.15, 0.12),
    "orange": (0.95, 0.55, 0.1),
    "yellow": (0.95, 0.85, 0.15),
    "green": (0.2, 0.65, 0.2),
    "blue": (0.15, 0.35, 0.85),
    "purple": (0.55, 0.2, 0.7),
    "pink": (0.95, 0.5, 0.7),
    "brown": (0.5, 0.3, 0.15),
    "grey": (0.55, 0.55, 0.55),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
DARK_RGB = np.array((0.12, 0.1, 0.1), dtype=np.float32)


def jittered(name: str, rng: np.random.Generator, spread: float = 0.08) -> np.ndarray:
    """The named colour with a small random shift, clipped to [0, 1]."""
    base = np.array(COLOURS[name], dtype=np.float32)
    return np.clip(base + rng.uniform(-spread, spread, 3).astype(np.float32), 0.0, 1.0)
