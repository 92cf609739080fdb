"""The paper's training augmentation, applied to a whole uint8 batch at once.

RandomResizedCrop(scale 0.7-1, ratio 3/4-4/3) + horizontal flip as one affine `grid_sample`,
ColorJitter(0.3, 0.3, 0.3, 0.3) (brightness, contrast, saturation, then hue as a rotation in
YIQ space, a close and fast stand-in for an HSV hue shift) and RandomGrayscale(0.1). Every
sample gets its own random parameters; `draw_params` takes a generator so that a view is
reproducible from (image, view index, seed) alone, whatever batch it is computed in.

The augmentation is six families, each selectable on its own (`FAMILIES`):

    flip                  horizontal flip
    shift                 where the crop lies; without crop-scale, a translation of up to
                          ±MAX_SHIFT of the side (reflection-padded)
    crop-scale            the crop's area and aspect ratio; without it the crop is the image
    brightness-contrast   ColorJitter's brightness and contrast
    color-jitter          ColorJitter's saturation and hue
    grayscale             RandomGrayscale

A family left out keeps its parameters at the identity. The random draws are the same whatever
families are on, so every family set draws the same generator stream, and all of them
(`FAMILIES`, the default) is exactly the paper's augmentation.
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
FAMILIES = ("flip", "shift", "crop-scale", "brightness-contrast", "color-jitter", "grayscale")
# A shift without crop-scale moves the whole image by up to this share of its side: half the
# room the smallest crop leaves.
MAX_SHIFT = (1 - math.sqrt(SCALE[0])) / 2


class UnknownFamily(ValueError):
    """An augmentation family not in FAMILIES."""


def check_families(families: frozenset[str] | tuple[str, ...]) -> frozenset[str]:
    """`families` as a frozenset, each one of FAMILIES (UnknownFamily names the first not)."""
    if unknown := sorted(set(families) - set(FAMILIES)):
        raise UnknownFamily(f"augmentation family {unknown[0]!r} is not one of {list(FAMILIES)}")
    return frozenset(families)


ALL_FAMILIES = frozenset(FAMILIES)


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


def _crop_theta(n: int, gen: torch.Generator, families: frozenset[str]) -> torch.Tensor:
    area = _uniform(n, *SCALE, gen)
    ratio = torch.exp(_uniform(n, math.log(RATIO[0]), math.log(RATIO[1]), gen))
    width = torch.sqrt(area * ratio).clamp(max=1.0)  # fractions of the side
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    if "crop-scale" not in families:
        width, height = torch.ones(n), torch.ones(n)
    u, v = torch.rand(n, generator=gen), torch.rand(n, generator=gen)
    if "shift" not in families:
        u, v = torch.full((n,), 0.5), torch.full((n,), 0.5)
    if "crop-scale" in families:
        cx, cy = (width / 2) + (1 - width) * u, (height / 2) + (1 - height) * v
    else:
        cx, cy = 0.5 + MAX_SHIFT * (2 * u - 1), 0.5 + MAX_SHIFT * (2 * v - 1)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    if "flip" not in families:
        flip = torch.ones(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = 2 * cx - 1
    theta[:, 1, 1] = height
    theta[:, 1, 2] = 2 * cy - 1
    return theta


def draw_params(
    n: int, gen: torch.Generator, families: frozenset[str] = ALL_FAMILIES
) -> AugmentParams:
    """Parameters of `n` samples with only `families` on (the others at the identity)."""
    params = AugmentParams(
        theta=_crop_theta(n, gen, families),
        brightness=_uniform(n, 1 - JITTER, 1 + JITTER, gen),
        contrast=_uniform(n, 1 - JITTER, 1 + JITTER, gen),
        saturation=_uniform(n, 1 - JITTER, 1 + JITTER, gen),
        hue=_uniform(n, -JITTER, JITTER, gen),
        grayscale=torch.rand(n, generator=gen) < GRAYSCALE_P,
    )
    return _only(params, families)


def _only(p: AugmentParams, families: frozenset[str]) -> AugmentParams:
    """The colour parameters of the families left out, set to the identity."""
    keep_bc, keep_jitter = "brightness-contrast" in families, "color-jitter" in families
    return AugmentParams(
        theta=p.theta,
        brightness=p.brightness if keep_bc else torch.ones_like(p.brightness),
        contrast=p.contrast if keep_bc else torch.ones_like(p.contrast),
        saturation=p.saturation if keep_jitter else torch.ones_like(p.saturation),
        hue=p.hue if keep_jitter else torch.zeros_like(p.hue),
        grayscale=p.grayscale if "grayscale" in families else torch.zeros_like(p.grayscale),
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
