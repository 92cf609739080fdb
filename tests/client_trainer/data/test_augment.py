"""Batched augmentation: per-sample randomness, seeded, and views independent of batching."""

from __future__ import annotations

import torch

from client_trainer.data.augment import AugmentParams, augment, draw_params, to_uint8
from client_trainer.purchase.queries import make_views


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
