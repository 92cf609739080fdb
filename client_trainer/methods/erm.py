"""ERM: cross-entropy on the source domains; full fine-tune or a linear probe."""

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
from client_trainer.methods.registry import register_method
from client_trainer.train.batches import StepBatch
from client_trainer.train.loop import Stage
from client_trainer.train.model import StudentModel, build_student_model


def cross_entropy(model: StudentModel, batch: StepBatch, features: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model.head(features), batch.labels)


def probe_stage(inputs: MethodInputs) -> Stage:
    steps = inputs.config.train.steps
    return Stage(
        name="probe",
        steps=steps,
        lr=head_lr(inputs),
        train_backbone=False,
        train_head=True,
        loss=cross_entropy,
        logits=classifier_logits,
    )


def finetune_stage(inputs: MethodInputs, fresh_head: bool) -> Stage:
    """Backbone and head together; a `fresh_head` (not probed first) learns at head_lr."""
    steps, lr = inputs.config.train.steps, inputs.config.train.lr
    head = head_lr(inputs) if fresh_head else None
    return Stage(
        name="finetune",
        steps=steps,
        lr=lr,
        train_backbone=True,
        train_head=True,
        loss=cross_entropy,
        logits=classifier_logits,
        head_lr=head,
    )


def classifier_model(inputs: MethodInputs) -> StudentModel:
    model = build_student_model(inputs.make_backbone(), len(inputs.task.classes))
    return model.to(inputs.device)


@register_method
class Erm:
    name = "erm"
    needs = TeacherNeeds(text=False, train_images=False, eval_images=False)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        model = classifier_model(inputs)
        linear = inputs.config.train.erm_variant == "linear-probe"
        stage = probe_stage(inputs) if linear else finetune_stage(inputs, fresh_head=True)
        reports = train_stages(inputs, model, [stage])
        id_acc, ood_acc = score(inputs, model, classifier_logits(model))
        return MethodOutcome(id_acc, ood_acc, model, "classifier", reports)
