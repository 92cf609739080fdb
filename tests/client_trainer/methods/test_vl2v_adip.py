"""VL2V-ADiP: the loss by hand, and which parameters each stage moves."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from client_trainer.config import RunConfig
from client_trainer.data.splits import load_task
from client_trainer.methods.base import MethodInputs, TeacherBundle
from client_trainer.methods.vl2v_adip import adip_loss, adip_stages
from client_trainer.students.registry import create_student
from client_trainer.train.batches import BatchSource, TrainTargets
from client_trainer.train.loop import run_stage
from client_trainer.train.model import StudentModel, build_student_model


def test_adip_loss_matches_a_hand_computation() -> None:
    projected = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    teacher = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    text = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    # cos(Pf, I_t): (3/5, 0); cos(Pf, T_y): (4/5, 1/sqrt 2)
    lmd = 0.3
    by_hand = (
        (lmd * -(3 / 5) + (1 - lmd) * -(4 / 5)) + (lmd * -0.0 + (1 - lmd) * -(1 / math.sqrt(2)))
    ) / 2
    assert adip_loss(projected, teacher, text, lmd).item() == pytest.approx(by_hand, abs=1e-6)


def test_adip_loss_at_lmd_half_is_the_papers_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    p, i, t = (torch.randn(7, 5, generator=gen) for _ in range(3))
    paper = -(F.cosine_similarity(p, t) + F.cosine_similarity(p, i)).sum() / (2 * 7)
    assert adip_loss(p, i, t, 0.5).item() == pytest.approx(paper.item(), abs=1e-6)


def _inputs(quick: RunConfig) -> tuple[MethodInputs, torch.Tensor]:
    torch.set_num_threads(1)
    torch.manual_seed(0)  # deterministic student init
    task = load_task(quick.data, quick.train.seed)
    gen = torch.Generator().manual_seed(1)
    text = F.normalize(torch.randn(len(task.classes), 16, generator=gen), dim=-1)
    clean = F.normalize(torch.randn(len(task.train), 16, generator=gen), dim=-1)
    bundle = TeacherBundle(text, TrainTargets("clean", clean=clean))
    inputs = MethodInputs(
        task,
        bundle,
        quick,
        torch.device("cpu"),
        lambda: create_student(quick.student, quick.data.image_size),
    )
    return inputs, text


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: nn.Module) -> set[str]:
    after = module.state_dict()
    return {k for k, v in before.items() if v.is_floating_point() and not torch.equal(v, after[k])}


def _run(inputs: MethodInputs, model: StudentModel, stage_index: int) -> None:
    stage = adip_stages(inputs, inputs.teacher.text)[stage_index]  # type: ignore[arg-type]
    cfg = inputs.config
    source = BatchSource(
        inputs.task.train, inputs.teacher.train, 8, cfg.data.image_size, 0, inputs.device
    )
    no_holdout = inputs.task.holdout.subset([])  # no model selection: keep the last weights
    run_stage(model, stage, source, no_holdout, eval_every=100)


def test_align_trains_only_the_projection_and_keeps_batchnorm_statistics(quick: RunConfig) -> None:
    inputs, text = _inputs(quick)
    model = build_student_model(inputs.make_backbone(), text.shape[1])
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    backbone, head = _snapshot(model.backbone), _snapshot(model.head)
    _run(inputs, model, 0)
    assert _changed(backbone, model.backbone) == set()  # weights and BN running stats
    assert _changed(head, model.head) == {"weight", "bias"}


def test_distill_trains_only_the_backbone_with_the_projection_frozen(quick: RunConfig) -> None:
    inputs, text = _inputs(quick)
    model = build_student_model(inputs.make_backbone(), text.shape[1])
    backbone, head = _snapshot(model.backbone), _snapshot(model.head)
    _run(inputs, model, 1)
    assert _changed(head, model.head) == set()
    moved = _changed(backbone, model.backbone)
    weights = {k for k, _ in model.backbone.named_parameters()}
    assert weights <= moved  # every backbone weight moved (BN stats too, in train mode)


def test_distill_reduces_the_adip_loss(quick: RunConfig) -> None:
    inputs, text = _inputs(quick)
    config = quick.with_overrides({"train.steps": 12})
    inputs.config = config
    model = build_student_model(inputs.make_backbone(), text.shape[1])
    align, distill = adip_stages(inputs, text)
    source = BatchSource(inputs.task.train, inputs.teacher.train, 8, 32, 0, inputs.device)
    first = run_stage(model, align, source, inputs.task.holdout, eval_every=100)
    second = run_stage(model, distill, source, inputs.task.holdout, eval_every=100)
    assert second.last_loss < first.last_loss


def test_the_image_term_is_the_mean_over_the_bought_rows() -> None:
    projected = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    teacher = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # row 1 was not bought
    text = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    has = torch.tensor([True, False])
    # image: row 0 alone (3/5); text: both rows (4/5, 1/sqrt 2)
    by_hand = 0.5 * -(3 / 5) + 0.5 * -((4 / 5) + 1 / math.sqrt(2)) / 2
    got = adip_loss(projected, teacher, text, 0.5, has)
    assert got.item() == pytest.approx(by_hand, abs=1e-6)
    everyone = adip_loss(projected, teacher, text, 0.5, torch.tensor([True, True]))
    assert everyone.item() == pytest.approx(adip_loss(projected, teacher, text, 0.5).item())


def test_no_bought_row_leaves_the_text_term_alone_with_finite_gradients() -> None:
    projected = torch.tensor([[3.0, 4.0], [1.0, 0.0]], requires_grad=True)
    text = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    got = adip_loss(projected, torch.zeros(2, 2), text, 0.5, torch.tensor([False, False]))
    assert got.item() == pytest.approx(0.5 * -((4 / 5) + 1 / math.sqrt(2)) / 2, abs=1e-6)
    got.backward()
    assert projected.grad is not None and torch.isfinite(projected.grad).all()


def test_at_image_fraction_005_the_image_term_weighs_as_much_as_with_every_row_bought() -> None:
    """1 row of 20 has a target: its image term must count with weight lmd, not lmd / 20."""
    gen = torch.Generator().manual_seed(0)
    projected = torch.randn(20, 8, generator=gen)
    text = torch.randn(20, 8, generator=gen)
    teacher = projected.clone()  # every target equals its row: cos 1 wherever bought
    has = torch.zeros(20, dtype=torch.bool)
    has[7] = True
    lmd = 0.5
    one_bought = adip_loss(projected, teacher, text, lmd, has)
    all_bought = adip_loss(projected, teacher, text, lmd, torch.ones(20, dtype=torch.bool))
    assert one_bought.item() == pytest.approx(all_bought.item(), abs=1e-5)
    text_only = (1 - lmd) * -F.cosine_similarity(projected, text).mean()
    assert (text_only - one_bought).item() == pytest.approx(lmd, abs=1e-5)
