"""The world's student: a small residual convnet registered with timm.

`timm.create_model("world_convnet_s", num_classes=0)` gives a feature extractor whose
`num_features` is the width of its pooled output; `num_classes > 0` adds a linear classifier.
Importing `client_trainer.students` registers the names; `client_trainer.simulation.pretrain`
pretrains them on the world's "ImageNet".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from client_trainer.students.registry import register_student

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Block(nn.Module):
    """Two 3x3 convs with BatchNorm and a residual shortcut (strided when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class WorldConvNet(nn.Module):
    """Stem (stride 2) then one stage per width, each halving the resolution, then mean pooling."""

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        depth: int = 1,
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        )
        stages, c_in = [], widths[0]
        for i, width in enumerate(widths):
            blocks = [
                Block(c_in if k == 0 else width, width, 2 if (k == 0 and i > 0) else 1)
                for k in range(depth)
            ]
            stages.append(nn.Sequential(*blocks))
            c_in = width
        self.stages = nn.Sequential(*stages)
        self.num_features = widths[-1]
        self.num_classes = num_classes
        self.head: nn.Module = (
            nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        )
        self.pretrained_cfg: dict[str, Any] = {
            "mean": IMAGENET_MEAN,
            "std": IMAGENET_STD,
            "input_size": (3, 64, 64),
            "num_classes": num_classes,
        }

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # (N, num_features)
        return pooled if pre_logits else self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


def _build(
    name: str, widths: tuple[int, ...], depth: int, pretrained: bool, kwargs: dict[str, Any]
) -> WorldConvNet:
    if pretrained:
        raise ValueError(f"{name} has no downloadable weights; pretrain it with pretrain_student")
    for unused in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(unused, None)
    return WorldConvNet(widths=widths, depth=depth, **kwargs)


@register_student
def world_convnet_s(pretrained: bool = False, **kwargs: Any) -> WorldConvNet:
    """1.2 M parameters, 256 features: the world's default student."""
    return _build("world_convnet_s", (32, 64, 128, 256), 1, pretrained, kwargs)


@register_student
def world_convnet_m(pretrained: bool = False, **kwargs: Any) -> WorldConvNet:
    """6.3 M parameters, 384 features, two blocks per stage: a larger student, for research."""
    return _build("world_convnet_m", (48, 96, 192, 384), 2, pretrained, kwargs)


@register_student
def world_convnet_xs(pretrained: bool = False, **kwargs: Any) -> WorldConvNet:
    """50 k parameters, 64 features: for tests."""
    return _build("world_convnet_xs", (8, 16, 32, 64), 1, pretrained, kwargs)
