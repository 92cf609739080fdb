"""LP-FT: a linear probe on the frozen backbone, then a full fine-tune from that head."""

from __future__ import annotations

from client_trainer.methods.base import (
    MethodInputs,
    MethodOutcome,
    TeacherNeeds,
    classifier_logits,
    score,
    train_stages,
)
from client_trainer.methods.erm import classifier_model, finetune_stage, probe_stage
from client_trainer.methods.registry import register_method


@register_method
class LpFt:
    name = "lp-ft"
    needs = TeacherNeeds(text=False, train_images=False, eval_images=False)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        model = classifier_model(inputs)
        reports = train_stages(
            inputs, model, [probe_stage(inputs), finetune_stage(inputs, fresh_head=False)]
        )
        id_acc, ood_acc = score(inputs, model, classifier_logits(model))
        return MethodOutcome(id_acc, ood_acc, model, "classifier", reports)
