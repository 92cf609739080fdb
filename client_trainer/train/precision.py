"""The precision a run trains in: bf16 autocast where the hardware computes it, else fp32.

`auto` means bf16 on CUDA and on CPUs with native bfloat16 (AVX-512 BF16 or AMX), fp32
elsewhere (emulated bf16 is slower than fp32). Weights, optimiser state and evaluation stay
fp32; only the training forward runs under autocast. On the CPU, bf16 also puts the model in
channels-last memory format, the layout oneDNN's bf16 convolutions are fast in.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
from torch import nn

from shared.cpu import native_bf16

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")  # train.precision in the run config


def resolve_precision(wanted: str, device: torch.device) -> str:
    """`auto` -> "bf16" or "fp32" for `device`; an explicit choice is kept."""
    if wanted not in PRECISIONS:
        raise ValueError(f"unknown precision {wanted!r}; known: {', '.join(PRECISIONS)}")
    if wanted != "auto":
        return wanted
    return "bf16" if device.type == "cuda" or native_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> AbstractContextManager[object]:
    """The training forward's autocast context ("fp32" disables it)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def prepare_for_training(model: nn.Module, device: torch.device, precision: str) -> None:
    """Channels-last weights for bf16 on the CPU (in place; a no-op otherwise)."""
    if precision == "bf16" and device.type == "cpu":
        model.to(memory_format=torch.channels_last)
