"""Which precision the VLM trains in on this CPU: bfloat16 where the hardware computes it.

bfloat16 autocast with channels-last convolutions halves a training step on CPUs with native
bfloat16 (AVX-512 BF16 or AMX); elsewhere it is emulated and slower than fp32, so fp32 it is.
The choice is written into the config, so it is part of the teacher's artefact hash.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from shared.cpu import native_bf16


def native_cpu_precision() -> str:
    """ "bf16" when this CPU computes bfloat16 natively, else "fp32"."""
    return "bf16" if native_bf16() else "fp32"


def autocast(precision: str) -> AbstractContextManager[object]:
    """The forward pass's autocast context for `precision` ("fp32" disables it)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
