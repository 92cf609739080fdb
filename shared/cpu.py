"""What this CPU computes natively, for choices both sides make the same way."""

from __future__ import annotations

import torch


def native_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX-512 BF16 or AMX).

    Elsewhere bfloat16 is emulated and slower than fp32, so callers fall back to fp32.
    """
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return bool(avx512_bf16 or amx)
