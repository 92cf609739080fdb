"""VL2V-ADiP's align stage alone: P trains on the frozen pretrained backbone, read by the
teacher's text classifier. The row that says what the distill stage adds on top of it.

Same loss, targets and readout as `vl2v-adip` (its first stage, `adip_stages(...)[0]`); the
backbone never trains.
"""

from __future__ import annotations

from client_trainer.methods.base import MethodInputs, MethodOutcome, TeacherNeeds
from client_trainer.methods.registry import register_method
from client_trainer.methods.vl2v_adip import run_adip


@register_method
class Vl2vAdipAlign:
    name = "vl2v-adip-align"
    needs = TeacherNeeds(text=True, train_images=True, eval_images=False, alignment=True)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        return run_adip(inputs, stage_count=1)
