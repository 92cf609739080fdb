"""VL2V-ADiP: align (train P only), distill (P frozen, backbone trains), predict with text.

    L = lmd * (-cos(P f(x), I_t(x))) + (1 - lmd) * (-cos(P f(x), T_y))

P is one Linear(student_dim -> clip_dim) without activation; no temperature, no CE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from client_trainer.methods.base import (
    MethodInputs,
    MethodOutcome,
    TeacherNeeds,
    head_lr,
    score,
    text_logits,
    train_stages,
)
from client_trainer.methods.registry import register_method
from client_trainer.train.batches import StepBatch
from client_trainer.train.distributed import mean_denominator
from client_trainer.train.evaluate import Logits
from client_trainer.train.loop import Stage, StageLoss
from client_trainer.train.model import StudentModel, build_student_model


def adip_terms(
    projected: torch.Tensor,
    teacher_image: torch.Tensor,
    label_text: torch.Tensor,
    has_teacher: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(image term, text term): −mean cos(Pf, I_t) over the rows whose image target was
    bought (all rows when `has_teacher` is None; 0 when none was), and −mean cos(Pf, T_y)
    over every row. The image mean divides by `mean_denominator`, so under torchrun it is
    the global batch's, as KD's KL is."""
    image_cos = F.cosine_similarity(projected.float(), teacher_image.float(), dim=-1)
    text_cos = F.cosine_similarity(projected.float(), label_text.float(), dim=-1)
    if has_teacher is None:
        image = image_cos.mean()
    else:
        bought = has_teacher.float()
        count = mean_denominator(bought.sum())
        # No bought row: the masked sum is 0, and so is the term (no division by zero).
        image = (image_cos * bought).sum() / torch.where(count > 0, count, torch.ones_like(count))
    return -image, -text_cos.mean()


def adip_loss(
    projected: torch.Tensor,
    teacher_image: torch.Tensor,
    label_text: torch.Tensor,
    lmd: float,
    has_teacher: torch.Tensor | None = None,
) -> torch.Tensor:
    """lmd·(−cos(Pf, I_t)) + (1−lmd)·(−cos(Pf, T_y)), each term a mean (`adip_terms`): rows
    whose image target was not bought count in the text term only, so the image term weighs
    the same whatever share of the images was bought."""
    image, text = adip_terms(projected, teacher_image, label_text, has_teacher)
    return lmd * image + (1 - lmd) * text


def _loss(text: torch.Tensor, lmd: float) -> StageLoss:
    def loss(model: StudentModel, batch: StepBatch, features: torch.Tensor) -> torch.Tensor:
        assert batch.teacher is not None
        projected = model.head(features)
        return adip_loss(projected, batch.teacher, text[batch.labels], lmd, batch.has_teacher)

    return loss


def adip_stages(inputs: MethodInputs, text: torch.Tensor) -> list[Stage]:
    cfg = inputs.config.train
    loss = _loss(text, cfg.lmd)

    def logits(model: StudentModel) -> Logits:
        return text_logits(model, text, cfg.logit_scale)

    return [
        Stage(
            name="align", steps=cfg.steps, lr=head_lr(inputs),
            train_backbone=False, train_head=True, loss=loss, logits=logits,
        ),
        Stage(
            name="distill", steps=cfg.steps, lr=cfg.lr,
            train_backbone=True, train_head=False, loss=loss, logits=logits,
        ),
    ]


@register_method
class Vl2vAdip:
    name = "vl2v-adip"
    needs = TeacherNeeds(text=True, train_images=True, eval_images=False)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        assert inputs.teacher.text is not None
        text = F.normalize(inputs.teacher.text.float(), dim=-1).to(inputs.device)
        model = build_student_model(inputs.make_backbone(), text.shape[1]).to(inputs.device)
        reports = train_stages(inputs, model, adip_stages(inputs, text))
        cfg = inputs.config.train
        id_acc, ood_acc = score(inputs, model, text_logits(model, text, cfg.logit_scale))
        return MethodOutcome(id_acc, ood_acc, model, "text", reports)
