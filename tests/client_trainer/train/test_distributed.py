"""Training under torchrun: each rank's share of the global batch, and the DDP-averaged
first-step gradient of 2 gloo processes against one process on the same global batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from client_trainer.data.splits import load_task
from client_trainer.methods.base import (
    MethodInputs,
    TeacherBundle,
    batch_source,
    classifier_logits,
)
from client_trainer.methods.erm import classifier_model, finetune_stage
from client_trainer.methods.kd import kd_loss
from client_trainer.methods.vl2v_adip import adip_stages
from client_trainer.students.registry import create_student
from client_trainer.train.batches import StepBatch, TrainTargets
from client_trainer.train.distributed import (
    Ranks,
    check_batch,
    current,
    launched,
    mean_denominator,
)
from client_trainer.train.loop import LoopOptions, Stage, run_stage
from client_trainer.train.model import StudentModel, build_student_model
from tests.support.ranks import spawn_ranks
from tests.support.run_config import quick_config

DIM = 32  # teacher embedding width of the synthetic targets
BATCH_PER_DOMAIN = 8
# ERM fine-tune, ADiP's two stages, KD and ADiP's distill with targets for half the images (a
# mean over the rows with a target). Every one trains BatchNorm in train mode except ADiP's
# align and ERM with frozen BatchNorm (train.freeze_bn).
CASES = (
    "erm", "adip-align", "adip-distill", "kd-half-bought", "adip-distill-half-bought",
    "erm-freeze-bn",
)  # fmt: skip


def test_rank_shares_split_every_domain_block_evenly() -> None:
    total, world = 3 * BATCH_PER_DOMAIN, 4
    shares = [Ranks(rank=r, world_size=world).rows(total, BATCH_PER_DOMAIN) for r in range(4)]
    assert all(s is not None and len(s) == total // world for s in shares)
    assert sorted(torch.cat(shares).tolist()) == list(range(total))  # type: ignore[arg-type]
    for share in shares:
        assert share is not None
        domains = (share // BATCH_PER_DOMAIN).tolist()
        assert domains == sorted(domains) and set(domains) == {0, 1, 2}


def test_one_process_is_left_as_it_is() -> None:
    ranks = current()
    assert not ranks.active and ranks.is_main and ranks.rows(24, 8) is None
    module = torch.nn.Linear(2, 2)
    assert ranks.wrap(module) is module
    count = torch.tensor(3.0)
    assert mean_denominator(count) is count
    assert ranks.seed(7) == 7
    with launched("cpu", 5) as inside:
        assert not inside.active and current() is inside


def test_each_rank_has_its_own_seed_and_rank_0_the_runs() -> None:
    seeds = [Ranks(rank=r, world_size=3).seed(11) for r in range(3)]
    assert seeds[0] == 11 and len(set(seeds)) == 3


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check_batch(8, 4)
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="multiple of 4"), launched("cpu", 6):
        pass


def _kd_stage(inputs: MethodInputs, text: torch.Tensor) -> Stage:
    def loss(model: StudentModel, batch: StepBatch, features: torch.Tensor) -> torch.Tensor:
        assert batch.teacher is not None
        return kd_loss(
            model.head(features), batch.labels, batch.teacher, text, 0.1, 1.0, batch.has_teacher
        )

    return Stage(
        name="train", steps=1, lr=1e-3, train_backbone=True, train_head=True, loss=loss,
        logits=classifier_logits,
    )  # fmt: skip


def _model_and_stage(
    inputs: MethodInputs, case: str, text: torch.Tensor
) -> tuple[StudentModel, Stage]:
    if case.startswith("erm"):
        return classifier_model(inputs), finetune_stage(inputs, fresh_head=True)
    if case == "kd-half-bought":
        return classifier_model(inputs), _kd_stage(inputs, text)
    model = build_student_model(inputs.make_backbone(), DIM)
    align, distill = adip_stages(inputs, text)
    return model, align if case == "adip-align" else distill


def first_step(root: Path, case: str) -> dict[str, torch.Tensor]:
    """Every parameter's gradient after one training step of `case`, and BatchNorm's
    running statistics (`buffer:` names), from a fixed initialisation."""
    config = quick_config(root, root / "runs", steps=1, batch_per_domain=BATCH_PER_DOMAIN)
    task = load_task(config.data, 0)
    gen = torch.Generator().manual_seed(1)
    text = F.normalize(torch.randn(len(task.classes), DIM, generator=gen), dim=-1)
    clean = F.normalize(torch.randn(len(task.train), DIM, generator=gen), dim=-1)
    half = torch.rand(len(task.train), generator=gen) < 0.5
    bought = half if case.endswith("half-bought") else None
    inputs = MethodInputs(
        task,
        TeacherBundle(text, TrainTargets("clean", clean=clean, bought=bought)),
        config,
        torch.device("cpu"),
        lambda: create_student(config.student, config.data.image_size),
    )
    torch.manual_seed(0)
    model, stage = _model_and_stage(inputs, case, text)
    options = LoopOptions(freeze_bn=case.endswith("freeze-bn"))
    initial = {n: b.clone() for n, b in model.named_buffers() if "running" in n}
    run_stage(model, stage, batch_source(inputs), task.holdout.subset([]), 100, options)
    if options.freeze_bn:
        assert all(torch.equal(b, initial[n]) for n, b in model.named_buffers() if n in initial)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    stats = {f"buffer:{n}": b.clone() for n, b in model.named_buffers() if "running" in n}
    return grads | stats


def _rank_first_steps(root: Path, out: Path) -> None:
    with launched("cpu", BATCH_PER_DOMAIN) as ranks:
        assert ranks.active and ranks.world_size == 2
        steps = {case: first_step(root, case) for case in CASES}
    torch.save(steps, out / f"rank{ranks.rank}.pt")


def _labelled(label: str) -> Callable[[str], str]:
    return lambda message: f"{label}: {message}"


@pytest.mark.timeout(180)
def test_two_ranks_average_to_the_one_process_gradient(tiny_root: Path, tmp_path: Path) -> None:
    spawn_ranks(_rank_first_steps, 2, tiny_root, tmp_path)
    one = {case: first_step(tiny_root, case) for case in CASES}
    for rank in (0, 1):
        two = torch.load(tmp_path / f"rank{rank}.pt")
        for case in CASES:
            assert two[case].keys() == one[case].keys()
            assert any(not n.startswith("buffer:") for n in one[case])
            for name, expected in one[case].items():
                label = _labelled(f"{case} {name} rank {rank}")
                torch.testing.assert_close(
                    two[case][name], expected, rtol=1e-4, atol=1e-6, msg=label
                )
