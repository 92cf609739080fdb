"""KD: cross-entropy plus KL to the teacher's zero-shot distribution.

The teacher's zero-shot logits are its cosines cos(I_t, T_c) over the temperature (0.1 in the
paper's code, i.e. a logit scale of 10); the student's own classifier logits enter at 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from client_trainer.methods.base import (
    MethodInputs,
    MethodOutcome,
    TeacherNeeds,
    classifier_logits,
    head_lr,
    score,
    train_stages,
)
from client_trainer.methods.erm import classifier_model
from client_trainer.methods.registry import register_method
from client_trainer.train.batches import StepBatch
from client_trainer.train.distributed import mean_denominator
from client_trainer.train.loop import LossTerms, Stage, StageLoss
from client_trainer.train.model import StudentModel


def kd_terms(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_image: torch.Tensor,
    text: torch.Tensor,
    temperature: float,
    has_teacher: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(CE(student, y), KL(p_teacher || p_student)); the KL averaged over the rows whose
    teacher target was bought (all rows when `has_teacher` is None; 0 when none was). That
    average divides by `mean_denominator`, so under torchrun it is the global batch's."""
    ce = F.cross_entropy(student_logits, labels)
    if has_teacher is not None:
        count = mean_denominator(has_teacher.sum().float())
        if not bool(count > 0):  # no bought row in the (global) batch
            return ce, torch.zeros_like(ce)
        student_logits, teacher_image = student_logits[has_teacher], teacher_image[has_teacher]
    cosines = F.normalize(teacher_image.float(), dim=-1) @ F.normalize(text.float(), dim=-1).T
    teacher_p = F.softmax(cosines / temperature, dim=-1)
    log_student = F.log_softmax(student_logits.float(), dim=-1)
    if has_teacher is None:
        return ce, F.kl_div(log_student, teacher_p, reduction="batchmean")
    return ce, F.kl_div(log_student, teacher_p, reduction="sum") / count


def kd_loss(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_image: torch.Tensor,
    text: torch.Tensor,
    temperature: float,
    weight: float,
    has_teacher: torch.Tensor | None = None,
) -> torch.Tensor:
    """CE(student, y) + weight * KL(p_teacher || p_student) (`kd_terms`)."""
    ce, kl = kd_terms(student_logits, labels, teacher_image, text, temperature, has_teacher)
    return ce + weight * kl


def _loss(inputs: MethodInputs) -> StageLoss:
    text = inputs.teacher.text
    assert text is not None
    text = text.to(inputs.device)
    cfg = inputs.config.train

    def loss(
        model: StudentModel, batch: StepBatch, features: torch.Tensor
    ) -> tuple[torch.Tensor, LossTerms]:
        assert batch.teacher is not None
        ce, kl = kd_terms(
            model.head(features), batch.labels, batch.teacher, text, cfg.kd_temperature,
            batch.has_teacher,
        )  # fmt: skip
        return ce + cfg.kd_weight * kl, {"ce": ce, "kl": kl}

    return loss


@register_method
class Kd:
    name = "kd"
    needs = TeacherNeeds(text=True, train_images=True, eval_images=False)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        model = classifier_model(inputs)
        cfg = inputs.config.train
        stage = Stage(
            name="train",
            steps=cfg.steps,
            lr=cfg.lr,
            train_backbone=True,
            train_head=True,
            loss=_loss(inputs),
            logits=classifier_logits,
            head_lr=head_lr(inputs),
        )
        reports = train_stages(inputs, model, [stage])
        id_acc, ood_acc = score(inputs, model, classifier_logits(model))
        return MethodOutcome(id_acc, ood_acc, model, "classifier", reports)
