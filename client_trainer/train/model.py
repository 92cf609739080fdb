"""Student = timm backbone f + one linear head (classifier, or ADiP's projection P)."""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class StudentModel(nn.Module):
    """`features` takes images in [0, 1] (N, 3, S, S) and returns (N, num_features)."""

    def __init__(self, backbone: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        cfg = getattr(backbone, "pretrained_cfg", {}) or {}
        mean = torch.tensor(cfg.get("mean", IMAGENET_MEAN)).view(1, 3, 1, 1)
        std = torch.tensor(cfg.get("std", IMAGENET_STD)).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        out: torch.Tensor = self.backbone((images - mean) / std)
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(images))
        return out


def build_student_model(backbone: nn.Module, out_dim: int) -> StudentModel:
    width = int(getattr(backbone, "num_features"))  # noqa: B009 - timm attribute
    return StudentModel(backbone, nn.Linear(width, out_dim))


def freeze_batchnorm(module: nn.Module) -> None:
    """Every BatchNorm layer of `module` in eval mode: it normalises with its running
    statistics and leaves them as they are (its affine weights still train when trainable)."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()
