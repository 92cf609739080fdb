"""Every class renders in every style, deterministically per seed, with real variation."""

from __future__ import annotations

import numpy as np
import pytest

from shared.world.config import ALL_CLASSES, ALL_STYLES
from shared.world.render import render


def test_the_world_has_enough_classes_and_styles() -> None:
    assert len(ALL_CLASSES) >= 20
    assert len(ALL_STYLES) >= 5


@pytest.mark.parametrize("style", ALL_STYLES)
def test_every_class_renders_in_style(style: str) -> None:
    for name in ALL_CLASSES:
        sample = render(name, style, 32, np.random.default_rng(0))
        assert sample.image.shape == (32, 32, 3)
        assert sample.image.dtype == np.uint8
        assert sample.image.std() > 5, f"{name} in {style} is a flat image"


def test_same_seed_same_image_other_seed_other_image() -> None:
    a = render("cat", "photo", 48, np.random.default_rng([1, 2]))
    b = render("cat", "photo", 48, np.random.default_rng([1, 2]))
    c = render("cat", "photo", 48, np.random.default_rng([1, 3]))
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_instances_of_a_class_vary_in_silhouette() -> None:
    """Line art on paper shows the silhouette alone: instances must differ in shape/pose."""
    masks = [
        render("house", "line_art", 32, np.random.default_rng(i)).image.min(-1) < 128
        for i in range(6)
    ]
    overlaps = [(masks[0] & m).sum() / max(1, (masks[0] | m).sum()) for m in masks[1:]]
    assert max(overlaps) < 0.9


def test_styles_shift_low_level_statistics() -> None:
    """Sketches are grey, cartoons flat, photos textured: mean colour saturation differs."""

    def saturation(style: str) -> float:
        imgs = [
            render("fish", style, 32, np.random.default_rng(i)).image.astype(float)
            for i in range(8)
        ]
        return float(np.mean([(im.max(-1) - im.min(-1)).mean() for im in imgs]))

    assert saturation("sketch") < 5
    assert saturation("photo") > 20
