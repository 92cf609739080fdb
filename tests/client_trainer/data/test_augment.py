"""Batched augmentation: per-sample randomness, seeded, and views independent of batching."""

from __future__ import annotations

import pytest
import torch

from client_trainer.data.augment import (
    ALL_FAMILIES,
    FAMILIES,
    MAX_SHIFT,
    AugmentParams,
    UnknownFamily,
    augment,
    check_families,
    draw_params,
    to_uint8,
)
from client_trainer.purchase.queries import make_views

PARAM_FIELDS = tuple(AugmentParams.__annotations__)
OWN_FIELDS = {
    "flip": {"theta"},
    "shift": {"theta"},
    "crop-scale": {"theta"},
    "brightness-contrast": {"brightness", "contrast"},
    "color-jitter": {"saturation", "hue"},
    "grayscale": {"grayscale"},
}


def _pixels(n: int) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, 24, 24), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )


def test_shapes_range_and_per_sample_randomness() -> None:
    images = _pixels(1).repeat(6, 1, 1, 1)
    out = augment(images, draw_params(6, torch.Generator().manual_seed(1)), 16)
    assert out.shape == (6, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    assert len({tuple(o.flatten()[:50].tolist()) for o in out}) == 6  # same input, 6 views


def test_same_generator_seed_same_augmentation() -> None:
    images = _pixels(4)
    a = augment(images, draw_params(4, torch.Generator().manual_seed(7)), 24)
    b = augment(images, draw_params(4, torch.Generator().manual_seed(7)), 24)
    assert torch.equal(a, b)


def test_identity_params_keep_the_image() -> None:
    images = _pixels(2)
    identity = AugmentParams(
        theta=torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]).repeat(2, 1, 1),
        brightness=torch.ones(2),
        contrast=torch.ones(2),
        saturation=torch.ones(2),
        hue=torch.zeros(2),
        grayscale=torch.zeros(2, dtype=torch.bool),
    )
    out = to_uint8(augment(images, identity, 24))
    assert (out.int() - images.int()).abs().max() <= 1


def test_a_view_depends_on_image_k_and_seed_not_on_its_batch() -> None:
    images = _pixels(3)
    keys = ["a", "b", "c"]
    together = make_views(images, keys, 2, seed=5, size=24)
    alone = make_views(images[1:2], keys[1:2], 2, seed=5, size=24)
    assert torch.equal(together[1], alone[0])
    assert not torch.equal(together[1, 0], together[1, 1])
    assert not torch.equal(together, make_views(images, keys, 2, seed=6, size=24))


def _params(families: frozenset[str], n: int = 64) -> AugmentParams:
    return draw_params(n, torch.Generator().manual_seed(3), families)


def test_every_family_on_is_the_paper_augmentation() -> None:
    default, every = draw_params(8, torch.Generator().manual_seed(3)), _params(ALL_FAMILIES, 8)
    assert all(torch.equal(getattr(default, f), getattr(every, f)) for f in PARAM_FIELDS)


def test_no_family_keeps_the_image() -> None:
    images = _pixels(3)
    out = to_uint8(augment(images, _params(frozenset(), 3), 24))
    assert (out.int() - images.int()).abs().max() <= 1


def test_each_family_alone_moves_only_its_own_parameters() -> None:
    identity = _params(frozenset())
    for family in FAMILIES:
        alone = _params(frozenset({family}))
        moved = {
            f for f in PARAM_FIELDS if not torch.equal(getattr(alone, f), getattr(identity, f))
        }
        assert moved == OWN_FIELDS[family], family


def test_flip_mirrors_and_shift_translates_within_its_range() -> None:
    flip = _params(frozenset({"flip"})).theta
    assert set(flip[:, 0, 0].tolist()) == {-1.0, 1.0} and flip[:, :, 2].abs().max() == 0
    shift = _params(frozenset({"shift"})).theta
    assert torch.equal(shift[:, 0, 0], torch.ones(64)) and torch.equal(
        shift[:, 1, 1], torch.ones(64)
    )
    offsets = shift[:, :, 2].abs() / 2  # in [-1, 1] coordinates: twice the share of the side
    assert 0 < offsets.max() <= MAX_SHIFT
    crop = _params(frozenset({"crop-scale"})).theta
    assert crop[:, 0, 0].min() < 1 and crop[:, :, 2].abs().max() < 1e-6  # centred crops


def test_an_unknown_family_is_refused() -> None:
    with pytest.raises(UnknownFamily, match="'blur'"):
        check_families(("flip", "blur"))
