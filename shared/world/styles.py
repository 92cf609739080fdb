"""The world's visual styles ("domains"): each turns one posed object into an RGB image.

The styles differ in low-level statistics on purpose, as PACS domains do: textured, shaded
photo scenes with clutter; grey pencil sketches with wobbly double strokes, hatching and
scribbles; flat cartoons with black outlines; paintings with brush streaks and colour washes;
thin line art on paper. A style is a function `(scene) -> float RGB image in [0, 1]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shared.world import sdf
from shared.world.texture import blur, fill_alpha, over, smooth_noise, streaks, stroke_alpha

Array = np.ndarray


@dataclass
class Scene:
    parts: list[tuple[Array, int]]  # (signed distance in image units, colour slot), back to front
    colours: Array  # (3, 3) RGB of the MAIN, ACCENT and DARK slots
    u: Array  # image x coordinate per pixel, [-1, 1]
    v: Array  # image y coordinate per pixel, [-1, 1], up
    px: float  # one pixel in image units
    rng: np.random.Generator

    @property
    def size(self) -> int:
        return self.u.shape[0]

    def union(self) -> Array:
        return sdf.union(*[d for d, _ in self.parts])


def _clutter(scene: Scene, n: int, scale: float) -> list[Array]:
    """Random blob shapes scattered over the image (distances in image units)."""
    rng, out = scene.rng, []
    for _ in range(n):
        x, y, r = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.3, 1.0) * scale
        uu, vv = sdf.move(scene.u, scene.v, x, y, rng.uniform(0, np.pi))
        kind = rng.integers(0, 3)
        if kind == 0:
            out.append(sdf.circle(uu, vv, r))
        elif kind == 1:
            out.append(sdf.box(uu, vv, r, r * rng.uniform(0.2, 1.0)))
        else:
            out.append(sdf.ellipse(uu, vv, r, r * rng.uniform(0.2, 0.6)))
    return out


def _scribbles(scene: Scene, n: int) -> Array:
    """Stroke coverage of `n` random wavy pencil lines and loops across the image."""
    rng, cover = scene.rng, np.zeros_like(scene.u)
    for _ in range(n):
        uu, vv = sdf.move(
            scene.u, scene.v, rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), rng.uniform(0, np.pi)
        )
        if rng.random() < 0.5:
            amp, freq, phase = rng.uniform(0.03, 0.2), rng.uniform(3, 12), rng.uniform(0, 6.3)
            dist = np.abs(vv - amp * np.sin(freq * uu + phase)) + np.maximum(
                np.abs(uu) - rng.uniform(0.2, 0.9), 0
            )
        else:
            dist = np.abs(sdf.ellipse(uu, vv, rng.uniform(0.1, 0.4), rng.uniform(0.05, 0.3)))
        cover = np.maximum(
            cover, stroke_alpha(dist, scene.px * 0.5, scene.px) * rng.uniform(0.35, 0.8)
        )
    return cover


def photo(scene: Scene) -> Array:
    rng, size = scene.rng, scene.size
    sky, ground = rng.uniform(0.25, 0.9, 3), rng.uniform(0.1, 0.7, 3)
    horizon = fill_alpha(scene.v - rng.uniform(-0.5, 0.4), 0.1)[..., None]
    canvas = sky * (1 - horizon) + ground * horizon
    tone = smooth_noise(rng, size, 6)[..., None]
    canvas = canvas * (1 + 0.2 * tone + 0.06 * smooth_noise(rng, size, 5, 3))
    canvas = canvas + 0.04 * smooth_noise(rng, size, size // 3)[..., None]
    for blob in _clutter(scene, int(rng.integers(2, 7)), 0.3):
        shade = 0.8 + 0.3 * fill_alpha(blob + 0.1, 0.2)
        canvas = over(
            canvas, rng.uniform(0.05, 0.95, 3) * shade[..., None], fill_alpha(blob, scene.px)
        )
    d_all = scene.union()
    dx, dy = rng.uniform(-0.12, 0.12), rng.uniform(0.03, 0.12)
    shadow = fill_alpha(
        np.roll(d_all, (int(dy / scene.px), int(dx / scene.px)), (0, 1)), 6 * scene.px
    )
    canvas = canvas * (1 - 0.45 * shadow[..., None])
    light = rng.uniform(-1, 1, 2)
    ramp = 1.0 + 0.25 * (scene.u * light[0] + scene.v * light[1])
    grain = 1 + 0.12 * smooth_noise(rng, size, size // 4)
    for dist, slot in scene.parts:
        bevel = 0.6 + 0.45 * np.clip(-dist / 0.12, 0, 1)
        colour = scene.colours[slot] * (bevel * ramp * grain)[..., None]
        canvas = over(canvas, colour, fill_alpha(dist, scene.px * 1.5))
    canvas = blur(canvas, 0.5)
    return canvas + rng.normal(0, 0.03, canvas.shape).astype(np.float32)


def cartoon(scene: Scene) -> Array:
    rng = scene.rng
    canvas = np.ones((scene.size, scene.size, 3), np.float32) * rng.uniform(0.55, 1.0, 3)
    if rng.random() < 0.5:
        canvas = over(
            canvas,
            rng.uniform(0.3, 0.9, 3),
            fill_alpha(scene.v - rng.uniform(-0.7, -0.2), scene.px),
        )
    width = scene.px * rng.uniform(0.7, 1.6)
    for dist, slot in scene.parts:
        fill = np.clip(scene.colours[slot] * 1.15 + 0.05, 0, 1)
        canvas = over(canvas, fill, fill_alpha(dist, scene.px))
        canvas = over(canvas, np.zeros(3, np.float32), stroke_alpha(dist, width, scene.px))
    return canvas


def sketch(scene: Scene) -> Array:
    rng, size = scene.rng, scene.size
    paper = rng.uniform(0.82, 0.98) + 0.03 * smooth_noise(rng, size, size // 2)
    dark = np.zeros((size, size), np.float32)
    for dist, _ in scene.parts:
        for _ in range(1 + int(rng.random() < 0.7)):
            wobble = 0.025 * smooth_noise(rng, size, 5)
            dark = np.maximum(
                dark, stroke_alpha(dist + wobble, scene.px * 0.45, scene.px) * rng.uniform(0.5, 0.9)
            )
    angle, freq = rng.uniform(0, np.pi), rng.uniform(14, 26)
    hatch = ((scene.u * np.cos(angle) + scene.v * np.sin(angle)) * freq) % 1.0 < 0.3
    dark = np.maximum(dark, hatch * fill_alpha(scene.union(), scene.px) * rng.uniform(0.15, 0.4))
    dark = np.maximum(dark, _scribbles(scene, int(rng.integers(3, 8))))
    grey = paper * (1 - dark)
    return blur(np.repeat(grey[..., None], 3, axis=-1), 0.4)


def art_painting(scene: Scene) -> Array:
    rng, size = scene.rng, scene.size
    base = rng.uniform(0.25, 0.8, 3)
    canvas = base + 0.12 * smooth_noise(rng, size, int(rng.integers(3, 6)), 3)
    soft = scene.px * rng.uniform(2.0, 4.0)
    for dist, slot in scene.parts:
        hue_shift = rng.uniform(-0.15, 0.15, 3)
        colour = scene.colours[slot] + hue_shift + 0.15 * smooth_noise(rng, size, 4, 3)
        wobble = 0.03 * smooth_noise(rng, size, 6)
        canvas = over(canvas, colour, fill_alpha(dist + wobble, soft))
    brush = streaks(rng, size, int(rng.integers(4, 10)))
    canvas = canvas * (1 + 0.12 * brush[..., None]) + 0.03 * streaks(rng, size, 3)[..., None]
    levels = float(rng.integers(5, 9))
    return np.round(np.clip(canvas, 0, 1) * levels) / levels


def line_art(scene: Scene) -> Array:
    rng = scene.rng
    canvas = np.ones((scene.size, scene.size, 3), np.float32) * rng.uniform(0.9, 1.0, 3)
    ink = scene.colours[0] * 0.5 if rng.random() < 0.5 else np.zeros(3, np.float32)
    for dist, _ in scene.parts:
        canvas = over(canvas, ink, stroke_alpha(dist, scene.px * 0.3, scene.px))
    return canvas


Style = Callable[[Scene], Array]

# name -> renderer; the caption word for each is in `captions.STYLE_WORDS`
STYLES: dict[str, Style] = {
    "photo": photo,
    "art_painting": art_painting,
    "cartoon": cartoon,
    "sketch": sketch,
    "line_art": line_art,
}
