"""The one training loop every method runs its stages through.

A stage says which part trains (head, backbone or both), its loss and how features become
logits for model selection. With a frozen backbone the backbone runs in eval mode (BatchNorm
statistics stay fixed) under no_grad, and the holdout features are computed once per stage.
Model selection uses the source holdouts only: the best evaluation wins, or with `swad` the
weight average of the later steps.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from client_trainer.data.images import ImageSet
from client_trainer.train import distributed
from client_trainer.train.batches import BatchSource, StepBatch
from client_trainer.train.evaluate import Logits, accuracy, eval_features
from client_trainer.train.model import StudentModel
from client_trainer.train.precision import autocast, prepare_for_training
from client_trainer.train.swad import WeightAverager

StageLoss = Callable[[StudentModel, StepBatch, torch.Tensor], torch.Tensor]  # (model, batch, f)
Progress = Callable[[str, int, int, float], None]  # (stage, step, steps, loss)


@dataclass(kw_only=True)
class Stage:
    name: str  # align, distill, probe, finetune, train
    steps: int
    lr: float
    train_backbone: bool  # False: the backbone is frozen (eval mode, no gradients)
    train_head: bool
    loss: StageLoss
    logits: Callable[[StudentModel], Logits]  # the model's current predictor over features
    head_lr: float | None = None  # lr of a freshly initialised head trained with the backbone


@dataclass
class StageReport:
    name: str
    steps: int
    selected: str  # "best@<step>", "swad(<n> steps)" or "initial"
    holdout_acc: float
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, holdout acc)
    last_loss: float = float("nan")
    seconds: float = 0.0  # wall time of the stage, evaluations included


def set_trainable(model: StudentModel, backbone: bool, head: bool) -> list[torch.nn.Parameter]:
    for p in model.backbone.parameters():
        p.requires_grad_(backbone)
    for p in model.head.parameters():
        p.requires_grad_(head)
    return [p for p in model.parameters() if p.requires_grad]


def param_groups(model: StudentModel, stage: Stage) -> list[dict[str, Any]]:
    """Adam parameter groups of the trainable weights: the backbone at the stage's lr, the
    head at `head_lr` when set (a new classifier learns at its own pace while the pretrained
    backbone moves slowly, as in the paper's recipe), else at the stage's lr."""
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    head = [p for p in model.head.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": backbone}] if backbone else []
    if head:
        groups.append({"params": head, "lr": stage.head_lr or stage.lr})
    return groups


class _HoldoutScorer:
    """Holdout accuracy; features cached for the stage when the backbone is frozen."""

    def __init__(self, model: StudentModel, holdout: ImageSet, stage: Stage, dev: torch.device):
        self._model, self._holdout, self._stage, self._dev = model, holdout, stage, dev
        self._cached: torch.Tensor | None = None

    def _features(self) -> torch.Tensor:
        if self._stage.train_backbone or self._cached is None:
            feats = eval_features(self._model, self._holdout, self._dev)
            if not self._stage.train_backbone:
                self._cached = feats
            return feats
        return self._cached

    def __call__(self) -> float:
        logits = self._stage.logits(self._model)
        feats = self._features().to(self._dev)
        return accuracy(feats, self._holdout.labels, logits)


# With a frozen backbone and fixed inputs (cached views), each input's features are computed
# once per stage instead of once per draw.
CACHE_FROZEN_FEATURES = True
# Read the loss back to the host (a device sync) every this many steps, and at a stage's end.
LOSS_EVERY = 10


def _frozen_features(model: StudentModel, stage: Stage, source: BatchSource) -> torch.Tensor | None:
    views = source.fixed_views()
    if stage.train_backbone or views is None or not CACHE_FROZEN_FEATURES or stage.steps == 0:
        return None
    device = next(model.parameters()).device
    model.backbone.eval()
    with torch.no_grad():
        parts = [
            model.features(views[i : i + 256].to(device).float() / 255.0).float()
            for i in range(0, len(views), 256)
        ]
    return torch.cat(parts)


class _StepLoss(nn.Module):
    """One step's forward and loss as a module: what DDP wraps under torchrun."""

    def __init__(self, model: StudentModel, stage: Stage, precision: str) -> None:
        super().__init__()
        self.model, self.stage, self.precision = model, stage, precision

    def forward(self, batch: StepBatch, cached: torch.Tensor | None) -> torch.Tensor:
        model, stage, device = self.model, self.stage, batch.images.device
        with autocast(device, self.precision):
            if cached is not None and batch.view_ids is not None:
                features = cached[batch.view_ids.to(device)]
            elif stage.train_backbone:
                features = model.features(batch.images)
            else:
                with torch.no_grad():
                    features = model.features(batch.images)
            loss: torch.Tensor = stage.loss(model, batch, features.float())
        return loss


def _steps(
    model: StudentModel, stage: Stage, source: BatchSource, weight_decay: float, precision: str
) -> Iterator[tuple[int, torch.Tensor]]:
    device = next(model.parameters()).device
    prepare_for_training(model, device, precision)  # before the optimiser takes the params
    set_trainable(model, stage.train_backbone, stage.train_head)
    # Under torchrun: DDP, which first gives every rank rank 0's weights (train.distributed).
    step_loss = distributed.current().wrap(_StepLoss(model, stage, precision))
    optimiser = torch.optim.Adam(param_groups(model, stage), lr=stage.lr, weight_decay=weight_decay)
    cached = _frozen_features(model, stage, source)
    for step in range(1, stage.steps + 1):
        model.train()
        if not stage.train_backbone:
            model.backbone.eval()
        batch = source.next()
        loss = step_loss(batch, cached)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        yield step, loss.detach()


def run_stage(
    model: StudentModel,
    stage: Stage,
    source: BatchSource,
    holdout: ImageSet,
    eval_every: int,
    swad_start: float | None = None,
    progress: Progress | None = None,
    weight_decay: float = 0.0,
    precision: str = "fp32",
) -> StageReport:
    """Train one stage, then leave `model` holding the selected weights.

    `precision` is a resolved one ("fp32" or "bf16", client_trainer.train.precision)."""
    started = time.perf_counter()
    if not distributed.current().is_main:  # rank 0 alone evaluates, selects and averages
        holdout, swad_start = holdout.subset([]), None
    device = next(model.parameters()).device
    score = _HoldoutScorer(model, holdout, stage, device)
    averager = WeightAverager(model, int(stage.steps * swad_start) + 1) if swad_start else None
    best_acc, best_state, best_step = score(), copy.deepcopy(model.state_dict()), 0
    report = StageReport(stage.name, stage.steps, "initial", best_acc, [(0, best_acc)])
    loss = math.nan
    for step, loss_tensor in _steps(model, stage, source, weight_decay, precision):
        if step % LOSS_EVERY == 0 or step == stage.steps:  # a host sync: not every step
            loss = float(distributed.current().average(loss_tensor))  # the global batch's
        report.last_loss = loss
        if averager is not None:
            averager.update(step)
        if progress is not None:
            progress(stage.name, step, stage.steps, loss)
        if step % eval_every == 0 or step == stage.steps:
            acc = score()
            report.history.append((step, acc))
            if math.isnan(acc) or acc >= best_acc:  # no holdout: keep the latest weights
                best_acc, best_state, best_step = acc, copy.deepcopy(model.state_dict()), step
    if averager is not None and averager.count > 0:
        model.load_state_dict(averager.averaged_state())
        report.selected, report.holdout_acc = f"swad({averager.count} steps)", score()
    else:
        model.load_state_dict(best_state)
        report.selected, report.holdout_acc = f"best@{best_step}", best_acc
    set_trainable(model, False, False)
    report.seconds = round(time.perf_counter() - started, 3)
    return report
