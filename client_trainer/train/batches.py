"""One training step's inputs: augmented images, labels and the teacher's image targets.

Targets policies (see PAPER.md, "what it costs"):
- `none`: no teacher image embedding (ERM, LP-FT).
- `clean`: the purchased embedding of the image's clean bytes, whatever the augmentation.
- `views`: K purchased augmented views per image; a step picks one view per image and the
  student sees exactly that view (no further augmentation).
- `per-step`: every augmented batch is bought from the teacher, as the official code does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from client_trainer.data.augment import (
    ALL_FAMILIES,
    AugmentParams,
    augment,
    draw_params,
    to_uint8,
)
from client_trainer.data.batches import DomainBatches
from client_trainer.data.images import ImageSet
from client_trainer.train import distributed

BuyViews = Callable[[torch.Tensor], torch.Tensor]  # uint8 (N, 3, S, S) -> (N, D) embeddings


@dataclass(frozen=True)
class TrainTargets:
    kind: str  # none | clean | views | per-step
    clean: torch.Tensor | None = None  # (N, D) per training image
    views: torch.Tensor | None = None  # (N, K, 3, S, S) uint8
    view_embeddings: torch.Tensor | None = None  # (N, K, D)
    buy: BuyViews | None = None  # per-step purchase
    bought: torch.Tensor | None = None  # (N,) bool: images with a target; None = all of them
    families: frozenset[str] = ALL_FAMILIES  # augmentation families a step applies
    probe: dict[str, Any] | None = None  # teacher-consistent: the table that chose `families`


@dataclass(frozen=True)
class StepBatch:
    images: torch.Tensor  # (B, 3, S, S) float in [0, 1], on the device
    labels: torch.Tensor  # (B,)
    teacher: torch.Tensor | None  # (B, D) L2-normalised teacher image embeddings
    has_teacher: torch.Tensor | None = None  # (B,) bool; None = every row has a target
    view_ids: torch.Tensor | None = None  # (B,) row of `fixed_views()` each image is (views)


class BatchSource:
    """Endless seeded steps over the training set."""

    def __init__(
        self,
        train: ImageSet,
        targets: TrainTargets,
        batch_per_domain: int,
        image_size: int,
        seed: int,
        device: torch.device,
    ) -> None:
        self._train, self._targets, self._size, self._device = train, targets, image_size, device
        self._order = DomainBatches(train, batch_per_domain, seed)
        self._gen = self._order.generator
        self._view_ids: torch.Tensor | None = None
        self._batch_per_domain = batch_per_domain
        self._ranks = distributed.current()  # under torchrun each rank keeps its share

    def _augmented(self, index: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        # Parameters come from the seeded CPU generator; the pixel work runs on the training
        # device, so on a GPU augmentation does not add a slow CPU pass to each step.
        # of the global batch, on every rank
        params = draw_params(len(index), self._gen, self._targets.families)
        if rows is not None:
            params, index = _params_of(params, rows), index[rows]
        pixels = self._train.pixels[index].to(self._device, non_blocking=True)
        return augment(pixels, params, self._size)

    def fixed_views(self) -> torch.Tensor | None:
        """(N * K, 3, S, S) uint8: every input a step can draw, when they are fixed (views)."""
        views = self._targets.views
        return None if views is None else views.flatten(0, 1)

    def _images_and_teacher(
        self, index: torch.Tensor, rows: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's images and targets of the global batch `index` (`rows` of it)."""
        t = self._targets
        if t.kind == "views":
            assert t.views is not None and t.view_embeddings is not None
            k = torch.randint(t.views.shape[1], (len(index),), generator=self._gen)
            if rows is not None:
                index, k = index[rows], k[rows]
            self._view_ids = index * t.views.shape[1] + k
            return t.views[index, k].float() / 255.0, t.view_embeddings[index, k]
        images = self._augmented(index, rows)
        index = index if rows is None else index[rows]
        if t.kind == "clean":
            assert t.clean is not None
            return images, t.clean[index]
        if t.kind == "per-step":
            assert t.buy is not None
            views = to_uint8(images).cpu()  # the exact pixels bought (PNG-encoded on the CPU)
            return views.float() / 255.0, t.buy(views)
        return images, None

    def next(self) -> StepBatch:
        index = self._order.next()  # the global batch, the same on every rank
        rows = self._ranks.rows(len(index), self._batch_per_domain)  # None: all of it
        images, teacher = self._images_and_teacher(index, rows)
        index = index if rows is None else index[rows]
        dev = self._device
        bought = self._targets.bought
        return StepBatch(
            images.to(dev, non_blocking=True),
            self._train.labels[index].to(dev),
            None if teacher is None else teacher.to(dev),
            None if bought is None else bought[index].to(dev),
            self._view_ids if self._targets.kind == "views" else None,
        )


def _params_of(params: AugmentParams, rows: torch.Tensor) -> AugmentParams:
    """The augmentation parameters of `rows` of a batch."""
    return AugmentParams(*(getattr(params, f)[rows] for f in AugmentParams.__annotations__))
