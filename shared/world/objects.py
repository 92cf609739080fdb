"""The world's object classes: each one a small part model with per-instance variation.

A class is a function `(u, v, rng) -> list[Part]` drawing one instance in its own frame (the
pose, scale and position are applied by the caller). Every class varies its proportions, its
part counts and which optional parts it has, so no two instances share a silhouette.
Colour slots: MAIN and ACCENT are the instance's two colours, DARK is a near-black part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from shared.world import sdf

MAIN, ACCENT, DARK = 0, 1, 2


class Part(NamedTuple):
    dist: np.ndarray  # signed distance of this part, (H, W) float32, negative inside
    slot: int  # which colour the part takes: MAIN, ACCENT or DARK


Array = np.ndarray
Rng = np.random.Generator
Draw = Callable[[Array, Array, Rng], list[Part]]


def _j(rng: np.random.Generator, value: float, spread: float = 0.15) -> float:
    """`value` jittered by up to ±spread (relative)."""
    return float(value * (1.0 + rng.uniform(-spread, spread)))


def star(u: Array, v: Array, rng: Rng) -> list[Part]:
    n = int(rng.integers(5, 8))
    return [Part(sdf.radial(u, v, _j(rng, 0.3), _j(rng, 0.75), n, sharp=_j(rng, 2.0, 0.4)), MAIN)]


def heart(u: Array, v: Array, rng: Rng) -> list[Part]:
    r, dx = _j(rng, 0.33), _j(rng, 0.28)
    lobes = sdf.union(
        sdf.circle(*sdf.move(u, v, -dx, 0.15), r), sdf.circle(*sdf.move(u, v, dx, 0.15), r)
    )
    tip = sdf.polygon(u, v, [(-0.6, 0.08), (0.0, _j(rng, -0.7)), (0.6, 0.08), (0.0, 0.3)])
    parts = [Part(sdf.union(lobes, tip), MAIN)]
    if rng.random() < 0.4:
        parts.append(Part(sdf.capsule(u, v, (-0.8, -0.4), (0.8, 0.45), 0.04), DARK))
    return parts


def house(u: Array, v: Array, rng: Rng) -> list[Part]:
    w, h = _j(rng, 0.5), _j(rng, 0.35)
    roof_h = _j(rng, 0.4, 0.3)
    parts = [
        Part(sdf.box(*sdf.move(u, v, 0, -0.3), w, h), MAIN),
        Part(sdf.polygon(u, v, [(-w - 0.1, 0.05), (w + 0.1, 0.05), (0.0, 0.05 + roof_h)]), ACCENT),
        Part(sdf.box(*sdf.move(u, v, rng.uniform(-0.25, 0.25), -0.47), 0.1, 0.18), DARK),
    ]
    for dx in (-0.3, 0.3)[: int(rng.integers(0, 3))]:
        parts.append(Part(sdf.box(*sdf.move(u, v, dx, -0.2), 0.09, 0.08), DARK))
    if rng.random() < 0.5:
        parts.append(Part(sdf.box(*sdf.move(u, v, w * 0.6, 0.3), 0.06, 0.15), ACCENT))
    return parts


def tree(u: Array, v: Array, rng: Rng) -> list[Part]:
    trunk = Part(sdf.box(*sdf.move(u, v, 0, -0.45), _j(rng, 0.08), 0.3), DARK)
    if rng.random() < 0.5:  # leafy
        crown = sdf.union(
            *[
                sdf.circle(
                    *sdf.move(u, v, rng.uniform(-0.3, 0.3), rng.uniform(0.0, 0.4)), _j(rng, 0.3)
                )
                for _ in range(3)
            ]
        )
    else:  # pine: stacked triangles
        crown = sdf.union(
            *[
                sdf.polygon(
                    u,
                    v,
                    [
                        (-0.55 + 0.12 * k, -0.2 + 0.3 * k),
                        (0.55 - 0.12 * k, -0.2 + 0.3 * k),
                        (0.0, 0.25 + 0.3 * k),
                    ],
                )
                for k in range(int(rng.integers(2, 4)))
            ]
        )
    return [trunk, Part(crown, MAIN)]


def car(u: Array, v: Array, rng: Rng) -> list[Part]:
    length = _j(rng, 0.75)
    body = sdf.box(*sdf.move(u, v, 0, -0.1), length, _j(rng, 0.17), 0.06)
    cabin = sdf.box(*sdf.move(u, v, rng.uniform(-0.15, 0.15), 0.15), _j(rng, 0.4), 0.14, 0.08)
    parts = [Part(sdf.union(body, cabin), MAIN)]
    parts.append(Part(sdf.box(*sdf.move(u, v, 0.0, 0.15), 0.3, 0.08), ACCENT))
    for dx in (-0.45 * length / 0.75, 0.45 * length / 0.75):
        parts.append(Part(sdf.circle(*sdf.move(u, v, dx, -0.3), _j(rng, 0.15)), DARK))
    return parts


def fish(u: Array, v: Array, rng: Rng) -> list[Part]:
    a, b = _j(rng, 0.5), _j(rng, 0.28, 0.3)
    tail = sdf.polygon(u, v, [(a - 0.1, 0.0), (a + 0.35, -0.3), (a + 0.35, 0.3)])
    parts = [Part(sdf.union(sdf.ellipse(u, v, a, b), tail), MAIN)]
    parts.append(Part(sdf.circle(*sdf.move(u, v, -a * 0.55, b * 0.25), 0.06), DARK))
    if rng.random() < 0.6:
        parts.append(
            Part(sdf.polygon(u, v, [(-0.15, b - 0.05), (0.2, b - 0.05), (0.0, b + 0.2)]), ACCENT)
        )
    return parts


def flower(u: Array, v: Array, rng: Rng) -> list[Part]:
    n = int(rng.integers(4, 9))
    head_y = _j(rng, 0.25)
    stem = Part(sdf.capsule(u, v, (0.0, -0.85), (0.0, head_y), 0.05), DARK)
    petals = sdf.radial(*sdf.move(u, v, 0, head_y), 0.15, _j(rng, 0.45), n, sharp=0.5)
    parts = [
        stem,
        Part(petals, MAIN),
        Part(sdf.circle(*sdf.move(u, v, 0, head_y), _j(rng, 0.13)), ACCENT),
    ]
    if rng.random() < 0.6:
        parts.append(Part(sdf.ellipse(*sdf.move(u, v, 0.15, -0.45, 0.6), 0.18, 0.07), DARK))
    return parts


def sun(u: Array, v: Array, rng: Rng) -> list[Part]:
    r = _j(rng, 0.35)
    n = int(rng.integers(7, 13))
    rays = sdf.union(
        *[
            sdf.capsule(
                u,
                v,
                (np.cos(t) * (r + 0.1), np.sin(t) * (r + 0.1)),
                (np.cos(t) * (r + 0.35), np.sin(t) * (r + 0.35)),
                0.04,
            )
            for t in np.linspace(0, 2 * np.pi, n, endpoint=False)
        ]
    )
    return [Part(rays, ACCENT), Part(sdf.circle(u, v, r), MAIN)]


def moon(u: Array, v: Array, rng: Rng) -> list[Part]:
    r = _j(rng, 0.6)
    cut = sdf.circle(*sdf.move(u, v, _j(rng, 0.3, 0.3), _j(rng, 0.15, 0.5)), r * 0.9)
    parts = [Part(sdf.subtract(sdf.circle(u, v, r), cut), MAIN)]
    if rng.random() < 0.5:
        parts.append(Part(sdf.radial(*sdf.move(u, v, 0.5, 0.45), 0.04, 0.12, 5, 2.0), ACCENT))
    return parts


def umbrella(u: Array, v: Array, rng: Rng) -> list[Part]:
    r = _j(rng, 0.7)
    canopy = sdf.subtract(
        sdf.circle(*sdf.move(u, v, 0, 0.0), r), sdf.box(*sdf.move(u, v, 0, -0.5), 1.0, 0.5)
    )
    scallops = sdf.union(
        *[sdf.circle(*sdf.move(u, v, x, 0.0), r / 4) for x in np.linspace(-0.75 * r, 0.75 * r, 4)]
    )
    handle = sdf.union(
        sdf.capsule(u, v, (0, 0), (0, -0.65), 0.035),
        sdf.subtract(
            sdf.ring(*sdf.move(u, v, 0.12, -0.65), 0.12, 0.035),
            sdf.box(*sdf.move(u, v, 0.12, -0.45), 0.3, 0.2),
        ),
    )
    return [Part(handle, DARK), Part(sdf.subtract(canopy, scallops), MAIN)]


def mushroom(u: Array, v: Array, rng: Rng) -> list[Part]:
    cap_w, cap_h = _j(rng, 0.65), _j(rng, 0.4, 0.3)
    cap = sdf.subtract(
        sdf.ellipse(*sdf.move(u, v, 0, 0.05), cap_w, cap_h),
        sdf.box(*sdf.move(u, v, 0, -0.5), 1.0, 0.5),
    )
    stalk = sdf.box(*sdf.move(u, v, 0, -0.3), _j(rng, 0.16), 0.32, 0.05)
    parts = [Part(stalk, ACCENT), Part(cap, MAIN)]
    for _ in range(int(rng.integers(0, 4))):
        parts.append(
            Part(
                sdf.circle(*sdf.move(u, v, rng.uniform(-0.4, 0.4), rng.uniform(0.12, 0.3)), 0.06),
                ACCENT,
            )
        )
    return parts


def cup(u: Array, v: Array, rng: Rng) -> list[Part]:
    w, h = _j(rng, 0.35), _j(rng, 0.42)
    body = sdf.polygon(u, v, [(-w, h), (-w * 0.8, -h), (w * 0.8, -h), (w, h)][::-1])
    handle = sdf.ring(*sdf.move(u, v, w + 0.05, 0.0), _j(rng, 0.2), 0.05)
    parts = [Part(handle, MAIN), Part(body, MAIN)]
    if rng.random() < 0.5:
        parts.append(Part(sdf.box(*sdf.move(u, v, 0, 0.05), w * 0.85, 0.07), ACCENT))
    if rng.random() < 0.5:
        parts.append(Part(sdf.ellipse(*sdf.move(u, v, 0, -h - 0.05), w + 0.25, 0.07), DARK))
    return parts


def boat(u: Array, v: Array, rng: Rng) -> list[Part]:
    L = _j(rng, 0.7)
    hull = sdf.polygon(u, v, [(-L, -0.2), (-L * 0.7, -0.5), (L * 0.7, -0.5), (L, -0.2)][::-1])
    mast = sdf.box(*sdf.move(u, v, 0, 0.2), 0.03, 0.45)
    sail = sdf.polygon(u, v, [(0.05, -0.1), (_j(rng, 0.5), -0.1), (0.05, 0.65)][::-1])
    parts = [Part(hull, MAIN), Part(mast, DARK), Part(sail, ACCENT)]
    if rng.random() < 0.5:
        parts.append(
            Part(sdf.polygon(u, v, [(-0.05, -0.1), (-0.05, 0.55), (-0.4, -0.1)][::-1]), ACCENT)
        )
    return parts


def kite(u: Array, v: Array, rng: Rng) -> list[Part]:
    w, top, bot = _j(rng, 0.4), _j(rng, 0.6), _j(rng, -0.3)
    body = sdf.polygon(u, v, [(0.0, top), (-w, 0.2), (0.0, bot), (w, 0.2)])
    cross = sdf.union(
        sdf.capsule(u, v, (0, top), (0, bot), 0.02), sdf.capsule(u, v, (-w, 0.2), (w, 0.2), 0.02)
    )
    tail_pts = [(0.0, bot)] + [
        (0.12 * np.sin(k * 1.7 + rng.uniform()), bot - 0.14 * k) for k in range(1, 5)
    ]
    tail = sdf.union(*[sdf.capsule(u, v, tail_pts[k], tail_pts[k + 1], 0.025) for k in range(4)])
    return [Part(tail, DARK), Part(body, MAIN), Part(cross, DARK)]


def snowman(u: Array, v: Array, rng: Rng) -> list[Part]:
    r1, r2, r3 = _j(rng, 0.38), _j(rng, 0.27), _j(rng, 0.18)
    y1, y2 = -0.45, -0.45 + r1 + r2 * 0.8
    y3 = y2 + r2 + r3 * 0.8
    body = sdf.union(
        sdf.circle(*sdf.move(u, v, 0, y1), r1),
        sdf.circle(*sdf.move(u, v, 0, y2), r2),
        sdf.circle(*sdf.move(u, v, 0, y3), r3),
    )
    parts = [Part(body, MAIN)]
    if rng.random() < 0.6:
        parts.append(Part(sdf.box(*sdf.move(u, v, 0, y3 + r3 + 0.08), 0.13, 0.1), DARK))
    parts.append(Part(sdf.capsule(u, v, (0, y3), (0.2, y3 - 0.03), 0.03), ACCENT))
    return parts


def rocket(u: Array, v: Array, rng: Rng) -> list[Part]:
    w, h = _j(rng, 0.17), _j(rng, 0.5)
    body = sdf.union(
        sdf.box(u, v, w, h, 0.05),
        sdf.polygon(u, v, [(-w, h - 0.02), (w, h - 0.02), (0, h + _j(rng, 0.3))]),
    )
    fins = sdf.union(
        sdf.polygon(u, v, [(-w, -h + 0.3), (-w - 0.2, -h - 0.1), (-w, -h)]),
        sdf.polygon(u, v, [(w, -h + 0.3), (w, -h), (w + 0.2, -h - 0.1)]),
    )
    parts = [
        Part(fins, ACCENT),
        Part(body, MAIN),
        Part(sdf.circle(*sdf.move(u, v, 0, h * 0.35), w * 0.55), DARK),
    ]
    if rng.random() < 0.6:
        parts.append(
            Part(
                sdf.polygon(
                    u, v, [(-w * 0.7, -h), (w * 0.7, -h), (0, -h - _j(rng, 0.25, 0.4))][::-1]
                ),
                ACCENT,
            )
        )
    return parts


def lightning(u: Array, v: Array, rng: Rng) -> list[Part]:
    k = _j(rng, 1.0, 0.2)
    upper = sdf.polygon(
        u, v, [(0.15 * k, 0.8), (-0.35 * k, -0.05), (0.05, -0.05), (0.4 * k, 0.8)][::-1]
    )
    lower = sdf.polygon(u, v, [(-0.05, 0.05), (0.35 * k, 0.05), (-0.15 * k, -0.8)][::-1])
    return [Part(sdf.union(upper, lower), MAIN)]


def arrow(u: Array, v: Array, rng: Rng) -> list[Part]:
    L, w = _j(rng, 0.55), _j(rng, 0.09, 0.4)
    head = _j(rng, 0.35)
    shaft = sdf.box(*sdf.move(u, v, -0.15, 0), L, w)
    tip = sdf.polygon(u, v, [(L - 0.2, -head), (L + 0.35, 0.0), (L - 0.2, head)])
    parts = [Part(sdf.union(shaft, tip), MAIN)]
    if rng.random() < 0.5:
        parts.append(
            Part(
                sdf.polygon(
                    u, v, [(-L - 0.15, w), (-L - 0.4, 0.25), (-L + 0.05, 0.25), (-L + 0.2, w)][::-1]
                ),
                ACCENT,
            )
        )
    return parts


def butterfly(u: Array, v: Array, rng: Rng) -> list[Part]:
    a, b = _j(rng, 0.35), _j(rng, 0.25)
    wings = sdf.union(
        *[
            sdf.ellipse(*sdf.move(u, v, s * a * 0.9, dy, s * t), a, b * k)
            for s in (-1, 1)
            for dy, t, k in ((0.2, 0.5, 1.0), (-0.25, -0.4, 0.8))
        ]
    )
    parts = [Part(wings, MAIN), Part(sdf.ellipse(u, v, 0.07, 0.45), DARK)]
    if rng.random() < 0.6:
        parts += [Part(sdf.circle(*sdf.move(u, v, s * a, 0.22), 0.09), ACCENT) for s in (-1, 1)]
    parts.append(
        Part(
            sdf.union(
                sdf.capsule(u, v, (0, 0.4), (-0.2, 0.7), 0.02),
                sdf.capsule(u, v, (0, 0.4), (0.2, 0.7), 0.02),
            ),
            DARK,
        )
    )
    return parts


def bottle(u: Array, v: Array, rng: Rng) -> list[Part]:
    w, h = _j(rng, 0.25), _j(rng, 0.45)
    body = sdf.box(*sdf.move(u, v, 0, -0.25), w, h, 0.08)
    neck = sdf.box(*sdf.move(u, v, 0, 0.35), _j(rng, 0.08), 0.25)
    parts = [
        Part(sdf.union(body, neck), MAIN),
        Part(sdf.box(*sdf.move(u, v, 0, 0.62), 0.1, 0.05), DARK),
    ]
    if rng.random() < 0.7:
        parts.append(Part(sdf.box(*sdf.move(u, v, 0, -0.25), w, _j(rng, 0.15)), ACCENT))
    return parts


def key(u: Array, v: Array, rng: Rng) -> list[Part]:
    r = _j(rng, 0.25)
    bow = sdf.ring(*sdf.move(u, v, -0.5, 0), r, 0.07)
    blade = sdf.box(*sdf.move(u, v, 0.15, 0), 0.45, 0.06)
    teeth = sdf.union(
        *[
            sdf.box(*sdf.move(u, v, 0.6 - 0.15 * k, -0.12), 0.05, _j(rng, 0.08, 0.5))
            for k in range(int(rng.integers(2, 4)))
        ]
    )
    return [Part(sdf.union(bow, blade, teeth), MAIN)]


def bell(u: Array, v: Array, rng: Rng) -> list[Part]:
    w = _j(rng, 0.5)
    dome = sdf.union(
        sdf.circle(*sdf.move(u, v, 0, 0.25), w * 0.6),
        sdf.polygon(u, v, [(-w * 0.6, 0.25), (-w, -0.4), (w, -0.4), (w * 0.6, 0.25)][::-1]),
    )
    parts = [Part(dome, MAIN), Part(sdf.box(*sdf.move(u, v, 0, -0.42), w + 0.08, 0.05), ACCENT)]
    parts.append(Part(sdf.circle(*sdf.move(u, v, 0, -0.55), 0.1), DARK))
    if rng.random() < 0.5:
        parts.append(Part(sdf.ring(*sdf.move(u, v, 0, 0.62), 0.1, 0.03), DARK))
    return parts


def cat(u: Array, v: Array, rng: Rng) -> list[Part]:
    r = _j(rng, 0.5)
    ear = _j(rng, 0.35, 0.3)
    head = sdf.union(
        sdf.ellipse(u, v, r, r * _j(rng, 0.85, 0.1)),
        sdf.polygon(u, v, [(-r, 0.1), (-r * 0.25, r * 0.7), (-r * 0.85, r + ear)][::-1]),
        sdf.polygon(u, v, [(r, 0.1), (r * 0.85, r + ear), (r * 0.25, r * 0.7)][::-1]),
    )
    parts = [Part(head, MAIN)]
    parts += [
        Part(sdf.ellipse(*sdf.move(u, v, s * r * 0.4, r * 0.15), 0.07, 0.11), DARK) for s in (-1, 1)
    ]
    parts.append(
        Part(sdf.polygon(u, v, [(-0.06, -0.05), (0.0, -0.13), (0.06, -0.05)][::-1]), ACCENT)
    )
    whiskers = sdf.union(
        *[
            sdf.capsule(u, v, (s * 0.12, -0.12 + dy), (s * (r + 0.25), -0.08 + 2 * dy), 0.012)
            for s in (-1, 1)
            for dy in (-0.06, 0.04)
        ]
    )
    return [*parts, Part(whiskers, DARK)]


def guitar(u: Array, v: Array, rng: Rng) -> list[Part]:
    r1, r2 = _j(rng, 0.32), _j(rng, 0.24)
    body = sdf.union(
        sdf.circle(*sdf.move(u, v, 0, -0.45), r1),
        sdf.circle(*sdf.move(u, v, 0, -0.45 + r1 + r2 * 0.5), r2),
    )
    neck = sdf.box(*sdf.move(u, v, 0, 0.35), 0.05, 0.38)
    parts = [
        Part(body, MAIN),
        Part(neck, DARK),
        Part(sdf.box(*sdf.move(u, v, 0, 0.78), 0.09, 0.08, 0.02), ACCENT),
    ]
    parts.append(Part(sdf.circle(*sdf.move(u, v, 0, -0.45 + r1 * 0.55), _j(rng, 0.09)), DARK))
    return parts


CLASSES: dict[str, Draw] = {
    f.__name__: f
    for f in (
        star,
        heart,
        house,
        tree,
        car,
        fish,
        flower,
        sun,
        moon,
        umbrella,
        mushroom,
        cup,
        boat,
        kite,
        snowman,
        rocket,
        lightning,
        arrow,
        butterfly,
        bottle,
        key,
        bell,
        cat,
        guitar,
    )
}
