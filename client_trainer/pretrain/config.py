"""Typed config of the student's supervised pretraining on the world's "ImageNet"."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.world.config import CorpusConfig
from shared.world.recipe import recipe_student_corpus


@dataclass(frozen=True)
class PretrainConfig:
    corpus: CorpusConfig = field(
        default_factory=recipe_student_corpus
    )  # labelled "ImageNet" images
    model_name: str = "world_convnet_s"  # timm name of the student (registered in .convnet)
    steps: int = 600  # optimiser steps
    batch_size: int = 128  # images per step
    lr: float = 2e-3  # AdamW peak learning rate (cosine decay to zero)
    weight_decay: float = 0.05  # AdamW weight decay
    holdout: int = 600  # last images of the corpus kept out of training, for accuracy per style
    seed: int = 0  # torch and sampling seed
    threads: int = 2  # torch CPU threads
