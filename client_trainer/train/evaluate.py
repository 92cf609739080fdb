"""Accuracy of a prediction head over an image set, in inference mode and in chunks."""

from __future__ import annotations

from collections.abc import Callable

import torch

from client_trainer.data.images import ImageSet
from client_trainer.train.model import StudentModel

Logits = Callable[[torch.Tensor], torch.Tensor]  # features (N, F) -> logits (N, C)
EVAL_CHUNK = 256


def eval_features(model: StudentModel, images: ImageSet, device: torch.device) -> torch.Tensor:
    """Backbone features of every image (evaluation transform: the stored resize)."""
    was_training = model.training
    model.eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(images), EVAL_CHUNK):
            chunk = images.pixels[start : start + EVAL_CHUNK].to(device).float() / 255.0
            parts.append(model.features(chunk).float().cpu())
    model.train(was_training)
    width = int(getattr(model.backbone, "num_features", 0))
    return torch.cat(parts) if parts else torch.empty(0, width)


def accuracy(features: torch.Tensor, labels: torch.Tensor, logits: Logits) -> float:
    """Top-1 accuracy of `logits(features)`; NaN on an empty set."""
    if len(labels) == 0:
        return float("nan")
    with torch.inference_mode():
        predicted = logits(features).argmax(dim=1).cpu()
    return float((predicted == labels).float().mean())
