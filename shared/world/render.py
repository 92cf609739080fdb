"""One labelled image: pose an instance of a class, colour it, render it in a style."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.world.objects import CLASSES, DARK
from shared.world.palette import COLOUR_NAMES, DARK_RGB, jittered
from shared.world.styles import STYLES, Scene


@dataclass(frozen=True)
class Sample:
    image: np.ndarray  # (H, W, 3) uint8
    class_name: str  # object class
    style: str  # visual style / domain
    colour: str  # name of the instance's main colour


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    u, v = np.meshgrid(axis, -axis)
    return u, v


def _pose(
    u: np.ndarray, v: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """Object-frame coordinates of a random pose (scale, rotation, mirror, position)."""
    scale = rng.uniform(0.6, 1.0)
    room = max(0.05, 1.0 - scale)
    cx, cy = rng.uniform(-room, room), rng.uniform(-room, room)
    angle = rng.uniform(-0.5, 0.5)
    c, s = np.cos(angle), np.sin(angle)
    x, y = (u - cx) / scale, (v - cy) / scale
    ou, ov = c * x + s * y, -s * x + c * y
    if rng.random() < 0.5:
        ou = -ou
    return ou.astype(np.float32), ov.astype(np.float32), float(scale)


def render(class_name: str, style: str, size: int, rng: np.random.Generator) -> Sample:
    """A new random instance of `class_name` drawn in `style` at `size` x `size` pixels."""
    u, v = _grid(size)
    ou, ov, scale = _pose(u, v, rng)
    parts = [(p.dist * scale, p.slot) for p in CLASSES[class_name](ou, ov, rng)]
    main, accent = rng.choice(len(COLOUR_NAMES), size=2, replace=False)
    colour = COLOUR_NAMES[int(main)]
    colours = np.stack([jittered(colour, rng), jittered(COLOUR_NAMES[int(accent)], rng), DARK_RGB])
    scene = Scene(parts=parts, colours=colours, u=u, v=v, px=2.0 / size, rng=rng)
    image = STYLES[style](scene)
    pixels = (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    assert DARK == 2
    return Sample(image=pixels, class_name=class_name, style=style, colour=colour)
