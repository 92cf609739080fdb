"""Named sizes of the vendor's world teacher: `full` (the demo's), `micro` (tests, seconds) and
`paper` (the client's paper recipe; its teacher is `full`'s, the same checkpoint).

The client side keeps profiles of the same names for its task and student
(client_trainer.simulation.profiles); a test checks the two lists agree.
"""

from __future__ import annotations

from dataclasses import replace

from vendor_service.vlm.config import VLMTrainConfig
from vendor_service.vlm.precision import native_cpu_precision

PROFILES = ("full", "micro", "paper")
FULL_STEPS = 1200  # docs/offline-world.md: what a stronger teacher buys, and what it costs


def vlm_profile(name: str) -> VLMTrainConfig:
    full = VLMTrainConfig(steps=FULL_STEPS, precision=native_cpu_precision())
    if name in ("full", "paper"):
        return full
    if name == "micro":
        corpus = replace(full.corpus, n_images=480, workers=1)
        return replace(
            full, corpus=corpus, steps=8, batch_size=32, warmup_steps=2, holdout=96,
            throughput_images=0, threads=1,
        )  # fmt: skip
    raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
