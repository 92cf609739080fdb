"""Signed-distance primitives on a pixel grid: negative inside, positive outside.

Every function takes object-frame coordinates `(u, v)` (float32 arrays, the image spanning
[-1, 1] on both axes, v pointing up) and returns an array of the same shape. Distances are exact
for circles, boxes and capsules and close enough elsewhere: the renderers only threshold them
(fill, outline width, anti-aliasing), never integrate them.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def move(u: Array, v: Array, dx: float, dy: float, angle: float = 0.0) -> tuple[Array, Array]:
    """Coordinates of a part placed at (dx, dy) and turned by `angle` radians."""
    x, y = u - dx, v - dy
    if angle == 0.0:
        return x, y
    c, s = np.cos(angle), np.sin(angle)
    return c * x + s * y, -s * x + c * y


def circle(u: Array, v: Array, r: float) -> Array:
    return np.sqrt(u * u + v * v) - r


def ellipse(u: Array, v: Array, a: float, b: float) -> Array:
    k = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return (k - 1.0) * min(a, b)


def box(u: Array, v: Array, w: float, h: float, round_r: float = 0.0) -> Array:
    """Axis-aligned box of half sizes (w, h), corners rounded by `round_r`."""
    qx = np.abs(u) - (w - round_r)
    qy = np.abs(v) - (h - round_r)
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return outside + inside - round_r


def capsule(u: Array, v: Array, a: tuple[float, float], b: tuple[float, float], r: float) -> Array:
    """Thick segment from a to b with radius r."""
    ax, ay = a
    bx, by = b
    px, py = u - ax, v - ay
    dx, dy = bx - ax, by - ay
    t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy + 1e-9), 0.0, 1.0)
    return np.sqrt((px - t * dx) ** 2 + (py - t * dy) ** 2) - r


def polygon(u: Array, v: Array, points: list[tuple[float, float]]) -> Array:
    """Convex polygon (either winding): the max of its edges' half-plane distances."""
    area = sum(
        x0 * y1 - x1 * y0
        for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True)
    )
    if area < 0:  # clockwise: walk it the other way so every normal points outward
        points = points[::-1]
    out = np.full(u.shape, -np.inf, dtype=np.float32)
    n = len(points)
    for i in range(n):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % n]
        ex, ey = x1 - x0, y1 - y0
        norm = float(np.hypot(ex, ey)) + 1e-9
        # outward normal of a counter-clockwise edge is (ey, -ex)
        out = np.maximum(out, ((u - x0) * ey - (v - y0) * ex) / norm)
    return out


def radial(u: Array, v: Array, r_in: float, r_out: float, n: int, sharp: float = 1.0) -> Array:
    """Star / petal outline in polar form: radius swings n times between r_in and r_out."""
    r = np.sqrt(u * u + v * v)
    theta = np.arctan2(v, u)
    wave = ((np.cos(n * theta) + 1.0) * 0.5) ** sharp
    return (r - (r_in + (r_out - r_in) * wave)) * 0.8


def ring(u: Array, v: Array, r: float, width: float) -> Array:
    return np.abs(np.sqrt(u * u + v * v) - r) - width


def union(*parts: Array) -> Array:
    out = parts[0]
    for p in parts[1:]:
        out = np.minimum(out, p)
    return out


def subtract(a: Array, b: Array) -> Array:
    """a with b cut out."""
    return np.maximum(a, -b)
