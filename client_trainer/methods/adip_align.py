"""VL2V-ADiP's align stage alone: P trains on the frozen pretrained backbone, read by the
teacher's text classifier. The row that says what the distill stage adds on top of it.

Same loss, targets and readout as `vl2v-adip` (its first stage, `adip_stages(...)[0]`); the
backbone never trains.
"""

from __future__ import annotations

import torch.nn.functional as F

from client_trainer.methods.base import (
    MethodInputs,
    MethodOutcome,
    TeacherNeeds,
    score,
    text_logits,
    train_stages,
)
from client_trainer.methods.registry import register_method
from client_trainer.methods.vl2v_adip import adip_stages
from client_trainer.train.model import build_student_model


@register_method
class Vl2vAdipAlign:
    name = "vl2v-adip-align"
    needs = TeacherNeeds(text=True, train_images=True, eval_images=False, alignment=True)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        assert inputs.teacher.text is not None
        text = F.normalize(inputs.teacher.text.float(), dim=-1).to(inputs.device)
        model = build_student_model(inputs.make_backbone(), text.shape[1]).to(inputs.device)
        align = adip_stages(inputs, text)[0]
        reports = train_stages(inputs, model, [align])
        cfg = inputs.config.train
        id_acc, ood_acc = score(inputs, model, text_logits(model, text, cfg.logit_scale))
        return MethodOutcome(id_acc, ood_acc, model, "text", reports)
