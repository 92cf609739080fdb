"""What a job will buy and what it will cost, before anything is bought.

A job is a list of run configs (one `train`, or a whole table). Each run's purchases are
planned by the code that buys them (`purchase.bundle.buy_bundle`) on a session that records
each query instead of sending it, so the quote and the purchase agree by construction (same
content keys, same preprocessing). The queries are counted once over the job, checked against
the cache, and priced at the vendor's list prices from `/v1/models`. Per-step targets are
bought while training, one per image of every step: they are quoted from steps x batch, as
an upper bound (a rerun of the same seed finds them in the cache). A teacher-consistent run's
augmentation probe buys its views through the same session, so they are quoted too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from httpx import AsyncBaseTransport

from client_trainer.config import RunConfig, TeacherConfig, TrainConfig
from client_trainer.data.domainbed import DatasetIndex, scan_dataset
from client_trainer.data.images import ImageSet, load_images
from client_trainer.data.splits import TaskSplit, split_task
from client_trainer.methods import get_method
from client_trainer.methods.base import TeacherNeeds
from client_trainer.progress import RunProgress
from client_trainer.purchase.bundle import buy_bundle
from client_trainer.purchase.session import TeacherSession
from client_trainer.purchase.tracker import Query
from client_trainer.report.results import run_identity
from client_trainer.selection.registry import get_strategy
from shared.schemas import Modality

# Training stages that draw image targets, per method (another method: one `train` stage).
STAGES_WITH_TARGETS = {
    "vl2v-adip": ("align", "distill"),
    "vl2v-adip-align": ("align",),
    "kd": ("train",),
}


@dataclass(frozen=True)
class Quote:
    model: str  # the vendor's model id
    price_per_image: int  # credits, from /v1/models
    price_per_text: int
    images: int  # distinct image queries bought before training (clean images, views)
    texts: int  # distinct text queries (class prompts)
    images_cached: int  # of `images`, already in the client's cache
    texts_cached: int
    per_step_images: int  # bought during training (per-step targets): steps x batch, at most
    runs: int  # runs that ask the teacher for something

    @property
    def images_to_buy(self) -> int:
        return self.images - self.images_cached

    @property
    def texts_to_buy(self) -> int:
        return self.texts - self.texts_cached

    @property
    def cost(self) -> int:
        """Credits the rest costs, per-step targets counted in full."""
        return (
            self.images_to_buy + self.per_step_images
        ) * self.price_per_image + self.texts_to_buy * self.price_per_text

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "images_to_buy": self.images_to_buy,
            "texts_to_buy": self.texts_to_buy,
            "cost": self.cost,
        }

    def describe(self) -> str:
        line = (
            f"quote ({self.model}, {self.runs} runs asking the teacher): {self.images:,} image"
            f" and {self.texts:,} text queries, {self.images_cached:,} and {self.texts_cached:,}"
            f" of them cached; buying {self.images_to_buy:,} images x {self.price_per_image}"
            f" + {self.texts_to_buy:,} texts x {self.price_per_text}"
        )
        if self.per_step_images:
            line += f" + at most {self.per_step_images:,} per-step images x {self.price_per_image}"
        return f"{line} = {self.cost:,} credits"


class PlanningSession(TeacherSession):
    """A TeacherSession that records the queries a run would buy instead of buying them."""

    def __init__(
        self, config: TeacherConfig, run_name: str, transport: AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(config, run_name, transport=transport)
        self.planned: dict[Modality, dict[str, Query]] = {Modality.IMAGE: {}, Modality.TEXT: {}}

    def __enter__(self) -> PlanningSession:
        return self

    def acquire(self, modality: Modality, items: list[Query], label: str) -> torch.Tensor:
        for item in items:
            self.planned[modality].setdefault(item.key, item)
        return torch.zeros(len(items), self.card().embedding_dim)


class TaskSource:
    """The splits of a job's runs, decoding each data set once (and only when a run's
    purchase depends on pixels: views, or a selection on the student's features)."""

    def __init__(self) -> None:
        self._indexes: dict[tuple[Path, str], DatasetIndex] = {}
        self._decoded: dict[tuple[Path, str, int, bool], ImageSet] = {}

    def task(self, config: RunConfig) -> TaskSplit:
        data = config.data
        index = self._indexes.get((data.root, data.dataset))
        if index is None:
            index = self._indexes[(data.root, data.dataset)] = scan_dataset(data.root, data.dataset)
        key = (data.root, data.dataset, data.image_size, needs_pixels(config))
        if key not in self._decoded:
            self._decoded[key] = _all_images(index, data.image_size, key[3])
        return split_task(index, data, config.train.seed, decoded=self._decoded[key])


def needs_pixels(config: RunConfig) -> bool:
    teacher = config.teacher
    if teacher.targets.kind == "views":
        return True
    if teacher.targets.kind == "clean" and config.train.augment == "teacher-consistent":
        return True  # the augmentation probe's views
    return teacher.image_fraction < 1 and get_strategy(teacher.selection).needs_features


def _all_images(index: DatasetIndex, size: int, pixels: bool) -> ImageSet:
    paths = list(index.paths)
    if pixels:
        return load_images(paths, list(index.labels), list(index.domain_ids), size)
    return ImageSet(
        torch.empty((len(paths), 3, 0, 0), dtype=torch.uint8),  # paths and labels suffice
        torch.as_tensor(index.labels, dtype=torch.long),
        torch.as_tensor(index.domain_ids, dtype=torch.long),
        tuple(paths),
    )


def _asks_teacher(needs: TeacherNeeds) -> bool:
    return needs.text or needs.train_images or needs.eval_images


def _purchase_identity(config: RunConfig, needs: TeacherNeeds) -> str:
    """Runs with equal identities buy the same queries (whatever else they train)."""
    public = config.public_dict()
    kept = {"data": public["data"], "teacher": public["teacher"], "student": public["student"]}
    train = config.train
    probe = [train.augment, train.augment_probe_images]  # the probe's views (clean targets)
    alignment = [train.holdout_alignment, train.target_alignment] if needs.alignment else []
    identity = [asdict(needs), train.seed, probe, alignment, run_identity(kept)]
    return json.dumps(identity, sort_keys=True)


def stage_steps(train: TrainConfig, stage: str) -> int:
    """Optimiser steps of a stage: ADiP's align has its own (`align_steps`), others `steps`."""
    return train.align_stage()[0] if stage == "align" else train.steps


def per_step_images(config: RunConfig, task: TaskSplit) -> int:
    """Images a per-step run buys while training: steps x batch over its target stages."""
    batch = config.train.batch_per_domain * len(task.source_domains)
    stages = STAGES_WITH_TARGETS.get(config.train.method, ("train",))
    return sum(stage_steps(config.train, stage) for stage in stages) * batch


@dataclass(frozen=True)
class Plan:
    quote: Quote
    queries: dict[Modality, list[Query]]  # what is still missing from the cache


def plan_job(
    configs: Sequence[RunConfig], transport: AsyncBaseTransport | None = None
) -> Plan | None:
    """The quote of `configs` and the queries still to buy before training; None when no run
    asks the teacher anything. The runs share one vendor and cache (the first run's)."""
    asking = [c for c in configs if _asks_teacher(get_method(c.train.method).needs)]
    if not asking:
        return None
    tasks, seen, per_step = TaskSource(), set(), 0
    with PlanningSession(asking[0].teacher, "quote", transport) as session:
        for config in asking:
            needs = get_method(config.train.method).needs
            task = tasks.task(config)
            if needs.train_images and config.teacher.targets.kind == "per-step":
                per_step += per_step_images(config, task)
            identity = _purchase_identity(config, needs)
            if identity not in seen:
                seen.add(identity)
                buy_bundle(session, task, needs, config)
        card = session.card()
        planned = session.planned
        image_keys, text_keys = list(planned[Modality.IMAGE]), list(planned[Modality.TEXT])
        cached_images = session.tracker.cached(image_keys)
        cached_texts = session.tracker.cached(text_keys)
    quote = Quote(
        card.id, card.price_per_image, card.price_per_text, len(image_keys), len(text_keys),
        len(cached_images), len(cached_texts), per_step, len(asking),
    )  # fmt: skip
    missing = {
        Modality.IMAGE: [q for k, q in planned[Modality.IMAGE].items() if k not in cached_images],
        Modality.TEXT: [q for k, q in planned[Modality.TEXT].items() if k not in cached_texts],
    }
    return Plan(quote, missing)


def buy_planned(config: RunConfig, plan: Plan, run_name: str) -> None:
    """Buy a plan's missing queries before the runs start, in one process: runs side by side
    then find them in the cache instead of racing to buy the same embedding twice."""
    if not any(plan.queries.values()):
        return
    with (
        RunProgress(config.output.progress) as progress,
        TeacherSession(config.teacher, run_name, progress.purchase) as session,
    ):
        session.acquire(Modality.TEXT, plan.queries[Modality.TEXT], "texts")
        session.acquire(Modality.IMAGE, plan.queries[Modality.IMAGE], "images")
