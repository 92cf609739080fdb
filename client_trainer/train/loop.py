"""The one training loop every method runs its stages through.

A stage says which part trains (head, backbone or both), its loss and how features become
logits for model selection. With a frozen backbone the backbone runs in eval mode (BatchNorm
statistics stay fixed) under no_grad, and the holdout features are computed once per stage.
Model selection uses the source holdouts only: the best evaluation wins, or with `swad` a
weight average (train.swad: SWAD's loss-valley window, or the later steps). With `freeze_bn`
every BatchNorm stays in eval mode in every stage. Each step's loss and terms go to the run's
log (train.run_log), read back from the device in windows of `LOSS_EVERY` steps.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from client_trainer.data.images import ImageSet
from client_trainer.train import distributed
from client_trainer.train.batches import BatchSource, StepBatch
from client_trainer.train.evaluate import Logits, accuracy, eval_features
from client_trainer.train.model import StudentModel, freeze_batchnorm
from client_trainer.train.precision import autocast, prepare_for_training
from client_trainer.train.run_log import RunLog
from client_trainer.train.swad import LossValley, SwadSettings, WeightAverager

LossTerms = dict[str, torch.Tensor]  # a loss's named parts, logged beside it
# (model, batch, features) -> the loss, or (the loss, its terms)
StageLoss = Callable[
    [StudentModel, StepBatch, torch.Tensor], torch.Tensor | tuple[torch.Tensor, LossTerms]
]
Progress = Callable[[str, int, int, float], None]  # (stage, step, steps, loss)
Measure = Callable[[StudentModel], dict[str, float]]  # measures of the weights (ADiP alignment)


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
    measure: Measure | None = None  # recorded before the stage and for the selected weights


@dataclass
class StageReport:
    name: str
    steps: int
    selected: str  # "best@<step>", "swad(<n> steps)", "swad-valley(<a>-<b>, <n> steps)"
    holdout_acc: float
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, holdout acc)
    last_loss: float = float("nan")  # the final training loss
    seconds: float = 0.0  # wall time of the stage, evaluations included
    lr: float = float("nan")  # the stage's learning rate (backbone, or the head alone)
    head_lr: float | None = None  # the head's, when it learns at its own rate
    mean_loss: float = float("nan")  # mean training loss over the stage's steps
    selected_step: int | None = None  # the evaluation selection kept; None: an average
    swad_window: tuple[int, int] | None = None  # first and last averaged step
    before: dict[str, float] = field(default_factory=dict)  # the stage's measures before it
    after: dict[str, float] = field(default_factory=dict)  # ... and of the selected weights


@dataclass(frozen=True)
class LoopOptions:
    """How every stage of a run trains, besides what the stage itself says."""

    weight_decay: float = 0.0
    precision: str = "fp32"  # resolved: fp32 or bf16 (client_trainer.train.precision)
    freeze_bn: bool = False  # every BatchNorm in eval mode, whatever trains
    swad: SwadSettings | None = None  # weight averaging instead of the best evaluation
    progress: Progress | None = None
    log: RunLog | None = None  # the run's per-step log (rank 0)


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
    """Holdout accuracy and loss (cross-entropy of the stage's predictor); features cached
    for the stage when the backbone is frozen."""

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

    def __call__(self) -> tuple[float, float]:
        if len(self._holdout) == 0:
            return math.nan, math.nan
        logits = self._stage.logits(self._model)
        feats = self._features().to(self._dev)
        labels = self._holdout.labels
        with torch.inference_mode():
            loss = float(F.cross_entropy(logits(feats).float().cpu(), labels))
        return accuracy(feats, labels, logits), loss


# With a frozen backbone and fixed inputs (cached views), each input's features are computed
# once per stage instead of once per draw.
CACHE_FROZEN_FEATURES = True
# Read the losses back to the host (a device sync) every this many steps, and at evaluations
# and a stage's end; the log still gets one line per step.
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

    def forward(
        self, batch: StepBatch, cached: torch.Tensor | None
    ) -> tuple[torch.Tensor, LossTerms]:
        model, stage, device = self.model, self.stage, batch.images.device
        with autocast(device, self.precision):
            if cached is not None and batch.view_ids is not None:
                features = cached[batch.view_ids.to(device)]
            elif stage.train_backbone:
                features = model.features(batch.images)
            else:
                with torch.no_grad():
                    features = model.features(batch.images)
            out = stage.loss(model, batch, features.float())
        loss, terms = out if isinstance(out, tuple) else (out, {})
        return loss, {k: v.detach() for k, v in terms.items()}


def train_mode(model: StudentModel, stage: Stage, freeze_bn: bool) -> None:
    """Train mode for what trains; a frozen backbone, and with `freeze_bn` every BatchNorm,
    in eval mode (running statistics fixed)."""
    model.train()
    if not stage.train_backbone:
        model.backbone.eval()
    if freeze_bn:
        freeze_batchnorm(model)


@dataclass
class _Step:
    step: int
    loss: torch.Tensor  # on the device: read back in windows
    terms: LossTerms
    images: int  # training images of the global batch
    seconds: float  # host time of the step (the device catches up at each read-back)


def _steps(
    model: StudentModel, stage: Stage, source: BatchSource, options: LoopOptions
) -> Iterator[_Step]:
    device = next(model.parameters()).device
    prepare_for_training(model, device, options.precision)  # before the optimiser takes them
    set_trainable(model, stage.train_backbone, stage.train_head)
    # Under torchrun: DDP, which first gives every rank rank 0's weights (train.distributed).
    ranks = distributed.current()
    step_loss = ranks.wrap(_StepLoss(model, stage, options.precision))
    optimiser = torch.optim.Adam(
        param_groups(model, stage), lr=stage.lr, weight_decay=options.weight_decay
    )
    cached = _frozen_features(model, stage, source)
    for step in range(1, stage.steps + 1):
        started = time.perf_counter()
        train_mode(model, stage, options.freeze_bn)
        batch = source.next()
        loss, terms = step_loss(batch, cached)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        seconds = time.perf_counter() - started
        yield _Step(step, loss.detach(), terms, len(batch.labels) * ranks.world_size, seconds)


def stage_lrs(stage: Stage) -> dict[str, float]:
    """The learning rates a stage trains with, as logged: `lr` (the backbone's, or the head's
    when only the head trains) and `head_lr` when the head has its own."""
    lr = stage.lr if stage.train_backbone else (stage.head_lr or stage.lr)
    out = {"lr": lr}
    if stage.train_backbone and stage.train_head and stage.head_lr:
        out["head_lr"] = stage.head_lr
    return out


class _Window:
    """Steps whose losses are still on the device; read back together (one sync)."""

    def __init__(self) -> None:
        self.steps: list[_Step] = []

    def read(self) -> list[dict[str, Any]]:
        """One log line per step (the global batch's loss and terms), then empty."""
        steps, self.steps = self.steps, []
        if not steps:
            return []
        names = sorted({k for s in steps for k in s.terms})
        rows = [torch.stack([s.loss.float(), *(_term(s, k) for k in names)]) for s in steps]
        values = distributed.current().average(torch.stack(rows)).tolist()
        seconds = sum(s.seconds for s in steps)
        rate = sum(s.images for s in steps) / seconds if seconds > 0 else math.nan
        return [
            {"step": s.step, "loss": v[0], **dict(zip(names, v[1:], strict=True)),
             "images_per_s": round(rate, 1)}
            for s, v in zip(steps, values, strict=True)
        ]  # fmt: skip


def _term(step: _Step, name: str) -> torch.Tensor:
    value = step.terms.get(name)
    return step.loss.new_full((), math.nan) if value is None else value.float()


class _Selection:
    """Model selection on the source holdout: the best evaluation, or a SWAD average."""

    def __init__(self, model: StudentModel, stage: Stage, swad: SwadSettings | None) -> None:
        self._model = model
        self.best_acc, self.best_step = -math.inf, 0
        self.best_state: dict[str, torch.Tensor] = {}
        self.tail = self.valley = None
        if swad is not None and swad.mode == "tail":
            self.tail = WeightAverager(model, int(stage.steps * swad.start) + 1)
        elif swad is not None:
            self.valley = LossValley(model, swad)

    def stepped(self, step: int) -> None:
        if self.tail is not None:
            self.tail.update(step)
        if self.valley is not None:
            self.valley.iterate(step)

    def evaluated(self, step: int, acc: float, loss: float) -> None:
        if math.isnan(acc) or acc >= self.best_acc:  # no holdout: keep the latest weights
            self.best_acc, self.best_step = acc, step
            self.best_state = copy.deepcopy(self._model.state_dict())
        if self.valley is not None:
            self.valley.evaluated(step, loss)

    def select(self, report: StageReport, score: _HoldoutScorer) -> None:
        """Leave the model holding the selected weights and say which in `report`."""
        model, tail, valley = self._model, self.tail, self.valley
        if valley is not None:
            valley.finish()
        if tail is not None and tail.count > 0:
            model.load_state_dict(tail.averaged_state())
            report.selected = f"swad({tail.count} steps)"
            report.swad_window = (report.steps - tail.count + 1, report.steps)
        elif valley is not None and valley.window_steps is not None:
            model.load_state_dict(valley.averaged_state())
            first, last = valley.window_steps
            report.selected = f"swad-valley({first}-{last}, {valley.window.count} steps)"
            report.swad_window = valley.window_steps
        else:
            model.load_state_dict(self.best_state)
            report.selected, report.holdout_acc = f"best@{self.best_step}", self.best_acc
            report.selected_step = self.best_step
            return
        report.holdout_acc = score()[0]


def run_stage(
    model: StudentModel,
    stage: Stage,
    source: BatchSource,
    holdout: ImageSet,
    eval_every: int,
    options: LoopOptions | None = None,
) -> StageReport:
    """Train one stage, then leave `model` holding the selected weights."""
    options = options or LoopOptions()
    started = time.perf_counter()
    main = distributed.current().is_main
    if not main:  # rank 0 alone evaluates, selects, averages and logs
        holdout = holdout.subset([])
        options = replace(options, swad=None, log=None)
    device = next(model.parameters()).device
    score = _HoldoutScorer(model, holdout, stage, device)
    selection = _Selection(model, stage, options.swad)
    report = StageReport(stage.name, stage.steps, "initial", math.nan, **_lrs(stage))
    log = options.log
    if log is not None:
        log.begin_stage(stage.name)
    if main and stage.measure is not None:
        report.before = stage.measure(model)
    acc, loss = score()
    report.history.append((0, acc))
    selection.stepped(0)  # the initial weights: the valley's first segment
    selection.evaluated(0, acc, loss)
    _log(log, [{"step": 0, "event": "start", "holdout_acc": acc, "holdout_loss": loss,
                **_measures("before", report.before)}])  # fmt: skip
    window, losses = _Window(), []
    for s in _steps(model, stage, source, options):
        window.steps.append(s)
        selection.stepped(s.step)
        evaluate = s.step % eval_every == 0 or s.step == stage.steps
        if s.step % LOSS_EVERY == 0 or evaluate:  # a host sync: not every step
            lines = window.read()
            losses += [line["loss"] for line in lines]
            report.last_loss = losses[-1]
            if evaluate:
                acc, loss = score()
                report.history.append((s.step, acc))
                selection.evaluated(s.step, acc, loss)
                lines[-1] |= {"holdout_acc": acc, "holdout_loss": loss}
            _log(log, [line | stage_lrs(stage) for line in lines])
        if options.progress is not None:
            options.progress(stage.name, s.step, stage.steps, report.last_loss)
    selection.select(report, score)
    set_trainable(model, False, False)
    report.mean_loss = sum(losses) / len(losses) if losses else math.nan
    if main and stage.measure is not None:
        report.after = stage.measure(model)
    report.seconds = round(time.perf_counter() - started, 3)
    end = {"step": stage.steps, "event": "selected", "selected": report.selected}
    _log(log, [end | {"holdout_acc": report.holdout_acc, **_measures("after", report.after)}])
    if log is not None:
        log.end_stage(stage.steps)
    return report


def _lrs(stage: Stage) -> dict[str, Any]:
    lrs = stage_lrs(stage)
    return {"lr": lrs["lr"], "head_lr": lrs.get("head_lr")}


def _measures(when: str, values: dict[str, float]) -> dict[str, Any]:
    return {f"alignment_{when}": values} if values else {}


def _log(log: RunLog | None, lines: list[dict[str, Any]]) -> None:
    if log is not None:
        log.write(lines)
