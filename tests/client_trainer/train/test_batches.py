"""A step's augmentation applies the families its targets allow (teacher-consistent)."""

from __future__ import annotations

from pathlib import Path

import torch

from client_trainer.data.augment import ALL_FAMILIES
from client_trainer.data.images import ImageSet
from client_trainer.train.batches import BatchSource, TrainTargets


def _images(n: int = 12) -> ImageSet:
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (n, 3, 16, 16), generator=gen, dtype=torch.uint8)
    labels = torch.arange(n) % 3
    return ImageSet(pixels, labels, torch.arange(n) % 2, tuple(Path(f"{i}") for i in range(n)))


def _step(families: frozenset[str]) -> tuple[torch.Tensor, torch.Tensor]:
    images = _images()
    targets = TrainTargets("clean", clean=torch.eye(12), families=families)
    source = BatchSource(images, targets, 3, 16, 0, torch.device("cpu"))
    batch = source.next()
    index = torch.tensor([int(p.name) for p in images.paths])[  # rows of the step, by target
        batch.teacher.argmax(dim=1)  # type: ignore[union-attr]
    ]
    return batch.images, images.pixels[index].float() / 255.0


def test_no_family_trains_on_the_clean_images_and_all_of_them_augments() -> None:
    plain, clean = _step(frozenset())
    assert (plain - clean).abs().max() <= 1 / 255 + 1e-6
    augmented, clean = _step(ALL_FAMILIES)
    assert (augmented - clean).abs().max() > 0.1
