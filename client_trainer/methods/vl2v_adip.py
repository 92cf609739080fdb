"""VL2V-ADiP: align (train P only), distill (P frozen, backbone trains), predict with text.

    L = lmd * (-cos(P f(x), I_t(x))) + (1 - lmd) * (-cos(P f(x), T_y))

P is one Linear(student_dim -> clip_dim) without activation; no temperature, no CE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from client_trainer.data.images import ImageSet
from client_trainer.methods.base import (
    AlignmentTargets,
    MethodInputs,
    MethodOutcome,
    TeacherNeeds,
    score,
    text_logits,
    train_stages,
)
from client_trainer.methods.registry import register_method
from client_trainer.train.batches import StepBatch
from client_trainer.train.distributed import mean_denominator
from client_trainer.train.evaluate import Logits, eval_features
from client_trainer.train.loop import LossTerms, Measure, Stage, StageLoss
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
    def loss(
        model: StudentModel, batch: StepBatch, features: torch.Tensor
    ) -> tuple[torch.Tensor, LossTerms]:
        assert batch.teacher is not None
        projected = model.head(features)
        image, text_term = adip_terms(
            projected, batch.teacher, text[batch.labels], batch.has_teacher
        )
        return lmd * image + (1 - lmd) * text_term, {"image": image, "text": text_term}

    return loss


def alignment(
    model: StudentModel, images: ImageSet, targets: AlignmentTargets, device: torch.device
) -> float:
    """Mean cos(P f(x), I_t(x)) over the images of `images` that `targets` has (NaN: none)."""
    if len(targets.rows) == 0:
        return float("nan")
    features = eval_features(model, images.subset(targets.rows.tolist()), device).to(device)
    with torch.inference_mode():
        projected = model.head(features).float()
        teacher = targets.embeddings.to(device).float()
        return float(F.cosine_similarity(projected, teacher, dim=-1).mean())


def alignment_measure(inputs: MethodInputs) -> Measure | None:
    """The alignment on the source holdout (and, for research, on the held-out domain: never
    used for selection); None when no image of either has a teacher embedding."""
    sets = [
        (name, images, found)
        for name, images, found in (
            ("holdout", inputs.task.holdout, inputs.teacher.holdout_alignment),
            ("target", inputs.task.target, inputs.teacher.target_alignment),
        )
        if found is not None and len(found.rows) > 0
    ]
    if not sets:
        return None

    def measure(model: StudentModel) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, images, found in sets:
            out[name] = alignment(model, images, found, inputs.device)
            out[f"{name}_images"] = float(len(found.rows))
        return out

    return measure


def adip_stages(inputs: MethodInputs, text: torch.Tensor) -> list[Stage]:
    """Align (P only; `align_steps` at `align_lr`, by default `steps` at `head_lr`), then
    distill (the backbone at `lr` for `steps`, P frozen)."""
    cfg = inputs.config.train
    loss = _loss(text, cfg.lmd)
    measure = alignment_measure(inputs)

    def logits(model: StudentModel) -> Logits:
        return text_logits(model, text, cfg.logit_scale)

    align_steps, align_lr = cfg.align_stage()
    return [
        Stage(
            name="align",
            steps=align_steps,
            lr=align_lr,
            train_backbone=False,
            train_head=True,
            loss=loss,
            logits=logits,
            measure=measure,
        ),
        Stage(
            name="distill",
            steps=cfg.steps,
            lr=cfg.lr,
            train_backbone=True,
            train_head=False,
            loss=loss,
            logits=logits,
            measure=measure,
        ),
    ]


def run_adip(inputs: MethodInputs, stage_count: int) -> MethodOutcome:
    """P on the student's features, trained through the first `stage_count` ADiP stages,
    scored by the teacher's text classifier."""
    assert inputs.teacher.text is not None
    text = F.normalize(inputs.teacher.text.float(), dim=-1).to(inputs.device)
    model = build_student_model(inputs.make_backbone(), text.shape[1]).to(inputs.device)
    reports = train_stages(inputs, model, adip_stages(inputs, text)[:stage_count])
    cfg = inputs.config.train
    id_acc, ood_acc = score(inputs, model, text_logits(model, text, cfg.logit_scale))
    return MethodOutcome(id_acc, ood_acc, model, "text", reports)


@register_method
class Vl2vAdip:
    name = "vl2v-adip"
    needs = TeacherNeeds(text=True, train_images=True, eval_images=False, alignment=True)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        return run_adip(inputs, stage_count=2)
