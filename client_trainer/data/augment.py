"""The paper's training augmentation, applied to a whole uint8 batch at once.

RandomResizedCrop(scale 0.7-1, ratio 3/4-4/3) + horizontal flip as one affine `grid_sample`,
ColorJitter(0.3, 0.3, 0.3, 0.3) (brightness, contrast, saturation, then hue as a rotation in
YIQ space, a close and fast stand-in for an HSV hue shift) and RandomGrayscale(0.1). Every
sample gets its own random parameters; `draw_params` takes a generator so that a view is
reproducible from (image, view index, seed) alone, whatever batch it is computed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SCALE = (0.7, 1.0)
RATIO = (3 / 4, 4 / 3)
JITTER = 0.3
GRAYSCALE_P = 0.1
_LUMA = torch.tensor([0.299, 0.587, 0.114])
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


@dataclass(frozen=True)
class AugmentParams:
    """Per-sample parameters, each a tensor with a leading batch dimension."""

    theta: torch.Tensor  # (N, 2, 3) affine map output -> input in [-1, 1] coordinates
    brightness: torch.Tensor  # (N,)
    contrast: torch.Tensor  # (N,)
    saturation: torch.Tensor  # (N,)
    hue: torch.Tensor  # (N,) fraction of a full turn
    grayscale: torch.Tensor  # (N,) bool

    @staticmethod
    def stack(parts: list[AugmentParams]) -> AugmentParams:
        return AugmentParams(
            *(torch.cat([getattr(p, f) for p in parts]) for f in AugmentParams.__annotations__)
        )


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _crop_theta(n: int, gen: torch.Generator) -> torch.Tensor:
    area = _uniform(n, *SCALE, gen)
    ratio = torch.exp(_uniform(n, math.log(RATIO[0]), math.log(RATIO[1]), gen))
    width = torch.sqrt(area * ratio).clamp(max=1.0)  # fractions of the side
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (width / 2) + (1 - width) * torch.rand(n, generator=gen)
    cy = (height / 2) + (1 - height) * torch.rand(n, generator=gen)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = 2 * cx - 1
    theta[:, 1, 1] = height
    theta[:, 1, 2] = 2 * cy - 1
    return theta


def draw_params(n: int, gen: torch.Generator) -> AugmentParams:
    return AugmentParams(
        theta=_crop_theta(n, gen),
        brightness=_uniform(n, 1 - JITTER, 1 + JITTER, gen),
        contrast=_uniform(n, 1 - JITTER, 1 + JITTER, gen),
        saturation=_uniform(n, 1 - JITTER, 1 + JITTER, gen),
        hue=_uniform(n, -JITTER, JITTER, gen),
        grayscale=torch.rand(n, generator=gen) < GRAYSCALE_P,
    )


def _gray(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nchw,c->nhw", x, _LUMA.to(x)).unsqueeze(1)


def _rotate_hue(x: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    angle = hue * 2 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(len(hue), 3, 3, dtype=x.dtype, device=x.device)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    to_yiq = _RGB_TO_YIQ.to(x)
    matrix = torch.linalg.inv(to_yiq) @ rotation @ to_yiq  # (N, 3, 3)
    return torch.einsum("nij,njhw->nihw", matrix, x)


def _color(x: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    def per_sample(v: torch.Tensor) -> torch.Tensor:
        return v.to(x).view(-1, 1, 1, 1)

    x = (x * per_sample(p.brightness)).clamp(0, 1)
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    x = (mean + per_sample(p.contrast) * (x - mean)).clamp(0, 1)
    x = (_gray(x) + per_sample(p.saturation) * (x - _gray(x))).clamp(0, 1)
    x = _rotate_hue(x, p.hue.to(x)).clamp(0, 1)
    return torch.where(per_sample(p.grayscale).bool(), _gray(x).expand_as(x), x)


def augment(pixels: torch.Tensor, params: AugmentParams, size: int) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, size, size) float in [0, 1], augmented per sample."""
    x = pixels.float() / 255.0
    theta = params.theta.to(x)
    grid = F.affine_grid(theta, [len(x), 3, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return _color(x, params)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] images -> uint8, the exact pixels a cached view or a per-step query holds."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)
