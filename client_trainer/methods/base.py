"""What a method receives, what it needs from the teacher, and what it returns."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from client_trainer.config import RunConfig
from client_trainer.data.splits import TaskSplit
from client_trainer.train import distributed
from client_trainer.train.batches import BatchSource, TrainTargets
from client_trainer.train.evaluate import Logits, accuracy, eval_features
from client_trainer.train.loop import LoopOptions, Progress, Stage, StageReport, run_stage
from client_trainer.train.model import StudentModel
from client_trainer.train.run_log import RunLog
from client_trainer.train.swad import SwadSettings


@dataclass(frozen=True)
class TeacherNeeds:
    """What a method buys: class text embeddings, targets for training images (under the
    run's targets policy), clean embeddings of the holdout and target images (zero-shot)."""

    text: bool
    train_images: bool
    eval_images: bool
    alignment: bool = False  # holdout images' embeddings to measure cos(P f, I_t) with


@dataclass(frozen=True)
class AlignmentTargets:
    """Clean teacher embeddings of some images of a set: what alignment is measured on."""

    rows: torch.Tensor  # (n,) indices into the image set
    embeddings: torch.Tensor  # (n, D), L2-normalised


@dataclass(frozen=True)
class TeacherBundle:
    """Purchased teacher outputs, L2-normalised, on the CPU."""

    text: torch.Tensor | None  # (C, D) class text embeddings
    train: TrainTargets  # per-training-image targets
    holdout: torch.Tensor | None = None  # (N_holdout, D), zero-shot only
    target: torch.Tensor | None = None  # (N_target, D), zero-shot only
    holdout_alignment: AlignmentTargets | None = None  # source holdout (train.holdout_alignment)
    target_alignment: AlignmentTargets | None = None  # held-out domain (research only)


@dataclass
class MethodInputs:
    task: TaskSplit
    teacher: TeacherBundle
    config: RunConfig
    device: torch.device
    make_backbone: Callable[[], nn.Module]
    progress: Progress | None = None
    precision: str = "fp32"  # resolved training precision: fp32 or bf16 (train.precision)
    log: RunLog | None = None  # the run's per-step log (rank 0)


@dataclass
class MethodOutcome:
    id_acc: float
    ood_acc: float
    model: StudentModel | None = None
    predictor: str = "classifier"  # classifier | text (fixed text-embedding classifier)
    stages: list[StageReport] = field(default_factory=list)


class Method(Protocol):
    name: str  # the registry name: what `train.method` / --method take
    needs: TeacherNeeds

    def run(self, inputs: MethodInputs) -> MethodOutcome: ...


def classifier_logits(model: StudentModel) -> Logits:
    return model.head


def text_logits(model: StudentModel, text: torch.Tensor, scale: float) -> Logits:
    """Predict: scale * normalise(P f) @ normalise(T)^T with T fixed."""
    classes = F.normalize(text.float(), dim=-1)

    def logits(features: torch.Tensor) -> torch.Tensor:
        projected = F.normalize(model.head(features).float(), dim=-1)
        return scale * projected @ classes.to(projected.device).T

    return logits


def batch_source(inputs: MethodInputs) -> BatchSource:
    cfg = inputs.config
    return BatchSource(
        inputs.task.train,
        inputs.teacher.train,
        cfg.train.batch_per_domain,
        cfg.data.image_size,
        cfg.train.seed,
        inputs.device,
    )


def loop_options(inputs: MethodInputs) -> LoopOptions:
    cfg = inputs.config.train
    swad = SwadSettings(
        cfg.swad_mode, cfg.swad_start, cfg.swad_n_converge, cfg.swad_n_tolerance,
        cfg.swad_tolerance_ratio,
    )  # fmt: skip
    return LoopOptions(
        weight_decay=cfg.weight_decay,
        precision=inputs.precision,
        freeze_bn=cfg.freeze_bn,
        swad=swad if cfg.swad else None,
        progress=inputs.progress,
        log=inputs.log,
    )


def train_stages(
    inputs: MethodInputs, model: StudentModel, stages: list[Stage]
) -> list[StageReport]:
    """Run stages in order over one shared batch stream."""
    source, options = batch_source(inputs), loop_options(inputs)
    holdout, every = inputs.task.holdout, inputs.config.train.eval_every
    return [run_stage(model, s, source, holdout, every, options) for s in stages]


def score(inputs: MethodInputs, model: StudentModel, logits: Logits) -> tuple[float, float]:
    """(ID accuracy on the source holdouts, OOD accuracy on the target domain); NaN on
    the ranks other than 0 of a torchrun, which leave evaluation to rank 0."""
    if not distributed.current().is_main:
        return math.nan, math.nan
    task, dev = inputs.task, inputs.device
    id_acc = accuracy(eval_features(model, task.holdout, dev).to(dev), task.holdout.labels, logits)
    ood_acc = accuracy(eval_features(model, task.target, dev).to(dev), task.target.labels, logits)
    return id_acc, ood_acc


def head_lr(inputs: MethodInputs) -> float:
    return inputs.config.train.head_lr or inputs.config.train.lr
