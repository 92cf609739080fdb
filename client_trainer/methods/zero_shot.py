"""Teacher zero-shot: purchased image embeddings against class text embeddings. No training."""

from __future__ import annotations

import torch

from client_trainer.methods.base import MethodInputs, MethodOutcome, TeacherNeeds
from client_trainer.methods.registry import register_method


def zero_shot_accuracy(images: torch.Tensor, text: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        return float("nan")
    predicted = (images.float() @ text.float().T).argmax(dim=1)
    return float((predicted == labels).float().mean())


@register_method
class ZeroShot:
    name = "zero-shot"
    needs = TeacherNeeds(text=True, train_images=False, eval_images=True)

    def run(self, inputs: MethodInputs) -> MethodOutcome:
        t, task = inputs.teacher, inputs.task
        assert t.text is not None and t.holdout is not None and t.target is not None
        return MethodOutcome(
            id_acc=zero_shot_accuracy(t.holdout, t.text, task.holdout.labels),
            ood_acc=zero_shot_accuracy(t.target, t.text, task.target.labels),
            predictor="teacher",
        )
