"""Typed config of the vendor's own small CLIP, trained on the world's caption corpus."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.world.captions import CaptionConfig
from shared.world.config import CorpusConfig
from shared.world.recipe import recipe_vendor_corpus

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class VLMTrainConfig:
    corpus: CorpusConfig = field(default_factory=recipe_vendor_corpus)  # images the VLM learns from
    captions: CaptionConfig = field(default_factory=CaptionConfig)  # caption sampling policy
    model_name: str = "world-clip"  # open_clip architecture (vendor_service/engine/model_configs)
    steps: int = 800  # optimiser steps (the `full` profile sets the demo's; see docs)
    batch_size: int = 256  # image-caption pairs per step (contrastive negatives)
    lr: float = 2e-3  # AdamW peak learning rate (linear warm-up, cosine decay)
    warmup_steps: int = 50  # steps of linear warm-up
    weight_decay: float = 0.1  # AdamW weight decay
    holdout: int = 1_000  # last images of the corpus kept out of training, for zero-shot eval
    throughput_images: int = 512  # random images timed through encode_image (0 skips it)
    seed: int = 0  # torch seed and caption-sampling seed
    threads: int = 2  # torch CPU threads
    precision: str = "fp32"  # "fp32", or "bf16": bfloat16 autocast (2x faster on CPUs with BF16)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
