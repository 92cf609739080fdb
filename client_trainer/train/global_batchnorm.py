"""BatchNorm over the global batch under torchrun, on the CPU (gloo) and on CUDA (NCCL) alike.

One process normalises a training batch with the statistics of the whole batch. Under DDP each
rank holds only its share, so every BatchNorm in train mode must gather the other ranks'
statistics to compute the same thing. torch's SyncBatchNorm does this on GPUs only (it refuses
CPU tensors) and needs its modules swapped in, which drops timm's fused norm + activation
layers. `GlobalBatchStatistics` instead intercepts `F.batch_norm` itself while the training
forward runs, so every module that calls it (nn.BatchNorm*, timm's BatchNormAct2d, ...) keeps
its class, its weights and its state_dict keys.

Per layer, one all_gather of each rank's (mean, sum of squared deviations,
count) per channel; the global statistics follow from the parallel variance formula, so they
are as exact as the one-process two-pass ones. Gradients reach every rank's inputs through the
all_gather's backward, which is what makes the DDP-averaged gradient the one-process gradient.
BatchNorm in eval mode (a frozen backbone, frozen statistics) uses its running statistics and
is left alone: no communication.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode


class _AllGather(torch.autograd.Function):
    """(K,) on every rank -> (W, K) in rank order; the backward hands each rank the sum over
    the ranks of the gradient of its own row (every rank's loss depends on every row)."""

    @staticmethod
    def forward(ctx: Any, local: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, local.contiguous())
        return torch.stack(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


def _channel_shape(x: torch.Tensor) -> list[int]:
    return [1, x.shape[1]] + [1] * (x.dim() - 2)  # broadcasts a (C,) vector over (N, C, ...)


def global_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (C,), biased variance (C,), count ()) of `x` (N, C, ...) over every rank's rows."""
    dims = [0, *range(2, x.dim())]
    var, mean = torch.var_mean(x.float(), dim=dims, correction=0)
    count = torch.full((1,), x.numel() / x.shape[1], dtype=torch.float32, device=x.device)
    local = torch.cat([mean, var * count, count])  # (2C + 1,)
    parts: torch.Tensor = _AllGather.apply(local)  # (W, 2C + 1)
    channels = x.shape[1]
    means, squares, counts = parts[:, :channels], parts[:, channels:-1], parts[:, -1:]
    total = counts.sum()
    mean_all = (counts * means).sum(dim=0) / total
    spread = (squares + counts * (means - mean_all) ** 2).sum(dim=0)
    return mean_all, spread / total, total


def _update_running(
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    mean: torch.Tensor,
    var: torch.Tensor,
    count: torch.Tensor,
    momentum: float,
) -> None:
    """As BatchNorm does it: an exponential average with the unbiased batch variance."""
    if running_mean is None or running_var is None:
        return
    with torch.no_grad():
        unbiased = var * count / (count - 1).clamp(min=1)
        running_mean.lerp_(mean.to(running_mean.dtype), momentum)
        running_var.lerp_(unbiased.to(running_var.dtype), momentum)


def global_batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """`F.batch_norm(..., training=True)` with the statistics of the global batch."""
    mean, var, count = global_moments(x)
    _update_running(running_mean, running_var, mean, var, count, momentum or 0.0)
    shape = _channel_shape(x)
    y = (x.float() - mean.view(shape)) * torch.rsqrt(var.view(shape) + eps)
    if weight is not None:
        y = y * weight.float().view(shape)
    if bias is not None:
        y = y + bias.float().view(shape)
    return y.to(x.dtype)


# F.batch_norm's parameters, in order, and the defaults of the optional ones.
BATCH_NORM_PARAMETERS = (
    "input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps",
)  # fmt: skip


def _batch_norm_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    names = BATCH_NORM_PARAMETERS
    defaults = {"weight": None, "bias": None, "training": False, "momentum": 0.1, "eps": 1e-5}
    return defaults | dict(zip(names, args, strict=False)) | kwargs


class GlobalBatchStatistics(TorchFunctionMode):
    """While active (and a process group is up), BatchNorm in train mode normalises over the
    global batch; everything else runs as it would."""

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func is F.batch_norm and dist.is_initialized():
            a = _batch_norm_arguments(args, kwargs)
            if a["training"]:
                return global_batch_norm(
                    a["input"], a["running_mean"], a["running_var"], a["weight"], a["bias"],
                    a["momentum"], a["eps"],
                )  # fmt: skip
        return func(*args, **kwargs)


class WithGlobalBatchStatistics(nn.Module):
    """`module` whose forward runs under `GlobalBatchStatistics`: what DDP wraps."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with GlobalBatchStatistics():
            return self.module(*args, **kwargs)
