"""Teacher-consistent augmentation: which augmentation families leave the teacher's embedding
where the clean image's is.

For a seeded sample of the training images whose clean targets are bought, each family of
`data.augment` alone makes one view per image, with the same random draw for every family (the
families are compared on the same images and parameters). The views are bought through the
run's session, so they are cached, quoted and paid once like every query. A family's score is
the mean teacher cosine between an image's view and its clean target. `none`, the view without
augmentation (the image at the student's input size), is the floor every family starts from.
A `teacher-consistent` run with clean targets trains with the families whose cosine is at
least `train.augment_threshold`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from client_trainer.config import RunConfig
from client_trainer.data.augment import FAMILIES, AugmentParams, augment, draw_params, to_uint8
from client_trainer.data.images import ImageSet
from client_trainer.purchase import queries
from client_trainer.purchase.session import TeacherSession
from shared.schemas import Modality

PROBE_FILE = "augment_probe.json"  # the measured table, in the run directory
NONE = "none"  # the reference view: no family on


@dataclass(frozen=True)
class AugmentProbe:
    images: int  # training images probed
    threshold: float
    cosines: dict[str, float]  # per family (and `none`): mean cosine, view vs clean target

    @property
    def kept(self) -> tuple[str, ...]:
        """The families at or above the threshold, in FAMILIES order."""
        return tuple(f for f in FAMILIES if self.cosines[f] >= self.threshold)

    def to_json(self) -> dict[str, Any]:
        return {"images": self.images, "threshold": self.threshold,
                "cosines": self.cosines, "kept": list(self.kept)}  # fmt: skip


def probe_rows(train: ImageSet, bought: torch.Tensor | None, count: int, seed: int) -> list[int]:
    """A seeded sample of `count` training images with a clean target (all if fewer)."""
    candidates = torch.arange(len(train)) if bought is None else bought.nonzero().flatten()
    order = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))
    return sorted(candidates[order[:count]].tolist())


def probe_seed(image_key: str, seed: int) -> int:
    """The random draw of an image's probe views: its content and the run seed only."""
    digest = hashlib.sha256(f"{image_key}:probe:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def probe_views(
    pixels: torch.Tensor, image_keys: list[str], family: str, seed: int, size: int
) -> torch.Tensor:
    """(N, 3, S, S) uint8 -> (N, 3, size, size) uint8: one view per image, only `family` on."""
    families = frozenset() if family == NONE else frozenset({family})
    params = [
        draw_params(1, torch.Generator().manual_seed(probe_seed(key, seed)), families)
        for key in image_keys
    ]
    return to_uint8(augment(pixels, AugmentParams.stack(params), size))


def measure(
    session: TeacherSession,
    images: ImageSet,
    clean: torch.Tensor,
    seed: int,
    size: int,
    threshold: float,
) -> AugmentProbe:
    """Buy one view per family of each of `images` and score it against `clean` (N, D)."""
    model_id, limits = session.card().id, session.limits()
    keys = [queries.image_file_query(model_id, p, limits).key for p in images.paths]
    cosines = {}
    for family in (NONE, *FAMILIES):
        views = probe_views(images.pixels, keys, family, seed, size)
        descriptor = queries.probe_descriptor(family, size, seed)
        items = [queries.pixels_query(model_id, v, descriptor, limits) for v in views]
        found = session.acquire(Modality.IMAGE, items, f"augment probe: {family}")
        cos = F.cosine_similarity(found.float(), clean.float(), dim=-1)
        cosines[family] = round(float(cos.mean()), 6) if len(cos) else float("nan")
    return AugmentProbe(len(images), threshold, cosines)


def probe_run(
    session: TeacherSession,
    train: ImageSet,
    clean: torch.Tensor,
    bought: torch.Tensor | None,
    config: RunConfig,
) -> AugmentProbe:
    """The probe of a teacher-consistent run, on its own clean targets (`clean`, (N, D))."""
    cfg = config.train
    rows = probe_rows(train, bought, cfg.augment_probe_images, cfg.seed)
    return measure(session, train.subset(rows), clean[rows], cfg.seed,
                   config.data.image_size, cfg.augment_threshold)  # fmt: skip


def probe_sample(session: TeacherSession, train: ImageSet, config: RunConfig) -> AugmentProbe:
    """The probe on its own (the research command): buys the sample's clean targets too."""
    cfg = config.train
    sample = train.subset(probe_rows(train, None, cfg.augment_probe_images, cfg.seed))
    clean = session.images(sample.paths, "augment probe: clean")
    return measure(session, sample, clean, cfg.seed, config.data.image_size,
                   cfg.augment_threshold)  # fmt: skip
