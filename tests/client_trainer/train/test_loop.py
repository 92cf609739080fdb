"""The shared loop: what each stage trains, model selection, weight averaging."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from client_trainer.config import RunConfig
from client_trainer.data.splits import load_task
from client_trainer.methods.base import MethodInputs, TeacherBundle
from client_trainer.methods.erm import classifier_model, finetune_stage, probe_stage
from client_trainer.students.registry import create_student
from client_trainer.train.batches import BatchSource, TrainTargets
from client_trainer.train.loop import run_stage
from client_trainer.train.model import build_student_model
from client_trainer.train.swad import WeightAverager


def _inputs(quick: RunConfig) -> MethodInputs:
    torch.set_num_threads(1)
    torch.manual_seed(0)  # deterministic student init
    task = load_task(quick.data, 0)
    return MethodInputs(
        task,
        TeacherBundle(None, TrainTargets("none")),
        quick,
        torch.device("cpu"),
        lambda: create_student(quick.student, quick.data.image_size),
    )


def _source(inputs: MethodInputs) -> BatchSource:
    return BatchSource(inputs.task.train, inputs.teacher.train, 8, 32, 0, inputs.device)


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _moved(before: dict[str, torch.Tensor], module: nn.Module) -> bool:
    after = module.state_dict()
    return any(not torch.equal(v, after[k]) for k, v in before.items() if v.is_floating_point())


def test_probe_moves_only_the_head_and_finetune_moves_both(quick: RunConfig) -> None:
    inputs = _inputs(quick)
    model = classifier_model(inputs)
    no_holdout = inputs.task.holdout.subset([])  # no model selection: keep the last weights
    backbone, head = _state(model.backbone), _state(model.head)
    run_stage(model, probe_stage(inputs), _source(inputs), no_holdout, 100)
    assert not _moved(backbone, model.backbone)  # incl. BatchNorm running statistics
    assert _moved(head, model.head)
    backbone, head = _state(model.backbone), _state(model.head)
    run_stage(model, finetune_stage(inputs, fresh_head=True), _source(inputs), no_holdout, 100)
    assert _moved(backbone, model.backbone) and _moved(head, model.head)
    assert not any(p.requires_grad for p in model.parameters())  # frozen after the stage


def test_model_selection_keeps_the_best_holdout_evaluation(quick: RunConfig) -> None:
    inputs = _inputs(quick)
    model = classifier_model(inputs)
    report = run_stage(
        model, finetune_stage(inputs, fresh_head=True), _source(inputs), inputs.task.holdout, 2
    )
    best_acc = max(acc for _, acc in report.history)
    assert report.holdout_acc == best_acc
    best_step = max(step for step, acc in report.history if acc == best_acc)
    assert report.selected == f"best@{best_step}"


def test_weight_averager_is_the_mean_of_the_later_steps() -> None:
    layer = nn.Linear(2, 1)
    averager = WeightAverager(layer, start_step=3)
    seen = []
    for step in range(1, 6):
        with torch.no_grad():
            layer.weight.fill_(float(step))
        averager.update(step)
        if step >= 3:
            seen.append(float(step))
    assert averager.count == 3
    mean = averager.averaged_state()["weight"]
    assert torch.allclose(mean, torch.full_like(mean, sum(seen) / len(seen)))


def test_without_a_holdout_the_last_weights_are_kept(quick: RunConfig) -> None:
    inputs = _inputs(quick.with_overrides({"data.holdout_fraction": 0.0}))
    assert len(inputs.task.holdout) == 0
    model = classifier_model(inputs)
    report = run_stage(
        model, finetune_stage(inputs, fresh_head=True), _source(inputs), inputs.task.holdout, 2
    )
    assert report.selected == f"best@{quick.train.steps}"


def test_frozen_stage_on_cached_views_computes_features_once_with_the_same_result(
    quick: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from client_trainer.methods.vl2v_adip import adip_stages
    from client_trainer.purchase.queries import make_views
    from client_trainer.train import loop

    base = _inputs(quick)
    task = base.task
    views = make_views(task.train.pixels, [str(p) for p in task.train.paths], 2, 0, 32)
    gen = torch.Generator().manual_seed(0)
    embeddings = F.normalize(torch.randn(len(task.train), 2, 16, generator=gen), dim=-1)
    text = F.normalize(torch.randn(len(task.classes), 16, generator=gen), dim=-1)
    targets = TrainTargets("views", views=views, view_embeddings=embeddings)
    inputs = MethodInputs(
        task, TeacherBundle(text, targets), quick, base.device, base.make_backbone
    )
    heads = []
    for cache in (True, False):
        monkeypatch.setattr(loop, "CACHE_FROZEN_FEATURES", cache)
        torch.manual_seed(0)
        model = build_student_model(inputs.make_backbone(), 16)
        calls = {"n": 0}
        original = model.backbone.forward

        def counted(
            x: torch.Tensor,
            original: Callable[[torch.Tensor], torch.Tensor] = original,
            calls: dict[str, int] = calls,
        ) -> torch.Tensor:
            calls["n"] += 1
            return original(x)

        model.backbone.forward = counted
        source = BatchSource(task.train, targets, 8, 32, 0, base.device)
        align = adip_stages(inputs, text)[0]
        run_stage(model, align, source, task.holdout.subset([]), 100)
        heads.append((model.head.weight.detach().clone(), calls["n"]))
    (cached_head, cached_calls), (plain_head, plain_calls) = heads
    assert torch.allclose(cached_head, plain_head, atol=1e-5)
    assert cached_calls < plain_calls  # one pass over the views instead of one per step


def test_a_fresh_head_learns_at_head_lr_and_the_backbone_at_lr() -> None:
    from torch import nn

    from client_trainer.train.loop import Stage, param_groups, set_trainable
    from client_trainer.train.model import StudentModel

    model = StudentModel(nn.Sequential(nn.Flatten(), nn.Linear(12, 4)), nn.Linear(4, 2))
    fine_tune = partial(Stage, name="finetune", steps=1, lr=5e-5, train_backbone=True,
                        train_head=True, loss=lambda *a: a[0], logits=lambda m: m.head)  # fmt: skip
    stage = fine_tune(head_lr=1e-3)
    set_trainable(model, True, True)
    groups = param_groups(model, stage)
    optimiser = torch.optim.Adam(groups, lr=stage.lr)
    lrs = [group["lr"] for group in optimiser.param_groups]
    assert lrs == [5e-5, 1e-3]
    assert {id(p) for p in optimiser.param_groups[1]["params"]} == {
        id(p) for p in model.head.parameters()
    }
    probed = fine_tune()
    assert [g.get("lr", 5e-5) for g in param_groups(model, probed)] == [5e-5, 5e-5]


def _batchnorm_stats(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "running" in k}


def test_freeze_bn_keeps_running_statistics_while_the_weights_train(quick: RunConfig) -> None:
    from client_trainer.train.loop import LoopOptions

    inputs = _inputs(quick)
    no_holdout = inputs.task.holdout.subset([])
    moved = {}
    for freeze in (False, True):
        torch.manual_seed(0)
        model = classifier_model(inputs)
        stats, weights = _batchnorm_stats(model), _state(model.backbone)
        stage = finetune_stage(inputs, fresh_head=True)
        run_stage(model, stage, _source(inputs), no_holdout, 100, LoopOptions(freeze_bn=freeze))
        assert stats, "the test student has BatchNorm"
        after = model.state_dict()
        moved[freeze] = any(not torch.equal(v, after[k]) for k, v in stats.items())
        assert _moved(weights, model.backbone)  # the backbone trains either way
    assert moved == {False: True, True: False}


def test_a_stage_report_records_lr_losses_and_the_selected_step(quick: RunConfig) -> None:
    inputs = _inputs(quick)
    model = classifier_model(inputs)
    stage = finetune_stage(inputs, fresh_head=True)
    report = run_stage(model, stage, _source(inputs), inputs.task.holdout, 2)
    assert (report.lr, report.head_lr) == (stage.lr, stage.head_lr)
    assert report.selected == f"best@{report.selected_step}"
    assert report.swad_window is None
    assert report.mean_loss == report.mean_loss and report.last_loss == report.last_loss  # set
    assert report.before == {} and report.after == {}  # no measure on a classifier stage


def test_swad_valley_in_a_stage_averages_its_window(quick: RunConfig) -> None:
    from client_trainer.train.loop import LoopOptions
    from client_trainer.train.swad import SwadSettings

    inputs = _inputs(quick)
    model = classifier_model(inputs)
    # opens at the first evaluation (step 0) and never closes: every iterate is averaged
    swad = SwadSettings(mode="valley", n_converge=1, n_tolerance=1, tolerance_ratio=1e6)
    stage = finetune_stage(inputs, fresh_head=True)
    report = run_stage(
        model, stage, _source(inputs), inputs.task.holdout, 1, LoopOptions(swad=swad)
    )
    steps = quick.train.steps
    assert report.selected == f"swad-valley(0-{steps}, {steps + 1} steps)"
    assert report.swad_window == (0, steps) and report.selected_step is None
    no_valley = SwadSettings(mode="valley", n_converge=100)  # never opens: the best evaluation
    report = run_stage(
        model, stage, _source(inputs), inputs.task.holdout, 1, LoopOptions(swad=no_valley)
    )
    assert report.selected.startswith("best@")
