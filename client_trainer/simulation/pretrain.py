"""Supervised pretraining of the world's student on the world's "ImageNet" (mostly photos).

`PretrainConfig` holds the corpus, model, steps and lr; `pretrain_student(config)` returns the
cached weight file: the backbone's state dict without its classifier, the form
`timm.create_model(name, num_classes=0)` takes. The architectures are in
`client_trainer.students`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F

from client_trainer.students import world_convnet
from shared.world.artifacts import cached, default_root
from shared.world.config import CorpusConfig
from shared.world.corpus import Corpus, build_corpus, load_corpus
from shared.world.recipe import recipe_student_corpus

log = logging.getLogger(__name__)

KIND = "student"
WEIGHTS = "student.pt"
_MEAN = torch.tensor(world_convnet.IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(world_convnet.IMAGENET_STD).view(1, 3, 1, 1)


@dataclass(frozen=True)
class PretrainConfig:
    corpus: CorpusConfig = field(
        default_factory=recipe_student_corpus
    )  # labelled "ImageNet" images
    model_name: str = "world_convnet_s"  # timm name of the student (client_trainer.students)
    steps: int = 600  # optimiser steps
    batch_size: int = 128  # images per step
    lr: float = 2e-3  # AdamW peak learning rate (cosine decay to zero)
    weight_decay: float = 0.05  # AdamW weight decay
    holdout: int = 600  # last images of the corpus kept out of training, for accuracy per style
    seed: int = 0  # torch and sampling seed
    threads: int = 2  # torch CPU threads


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W), as the client's StudentModel does."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - _MEAN) / _STD


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and shifts of up to 1/8 of the side (replicate padding)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    size, pad = x.shape[-1], max(1, x.shape[-1] // 8)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=gen))
    return padded[:, :, dy : dy + size, dx : dx + size]


def _fit(model: torch.nn.Module, corpus: Corpus, config: PretrainConfig) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / config.steps))
    )
    gen = torch.Generator().manual_seed(config.seed)
    order = np.random.default_rng([config.seed, 2])
    n_train, labels, losses = (
        len(corpus.labels) - config.holdout,
        torch.from_numpy(corpus.labels),
        [],
    )
    model.train()
    for step in range(config.steps):
        index = np.sort(order.choice(n_train, config.batch_size, replace=False))
        loss = F.cross_entropy(model(augment(to_input(corpus.images[index]), gen)), labels[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == config.steps - 1:
            losses.append(round(loss.item(), 4))
            log.info("student step %d/%d, loss %.3f", step + 1, config.steps, losses[-1])
    return losses


@torch.no_grad()
def accuracy_by_style(
    model: torch.nn.Module, corpus: Corpus, index: np.ndarray
) -> dict[str, float]:
    """Top-1 accuracy (%) of a classifier on corpus[index], per style and overall ("all")."""
    model.eval()
    correct = model(to_input(corpus.images[index])).argmax(1).numpy() == corpus.labels[index]
    styles = corpus.styles[index]
    out = {
        n: float(100 * correct[styles == k].mean())
        for k, n in enumerate(corpus.style_names)
        if (styles == k).any()
    }
    out["all"] = float(100 * correct.mean())
    return out


def _build(config: PretrainConfig, root: Path, out: Path) -> dict[str, Any]:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    corpus = load_corpus(build_corpus(config.corpus, root), mmap=False)
    model = timm.create_model(config.model_name, num_classes=len(corpus.classes))
    started = time.perf_counter()
    losses = _fit(model, corpus, config)
    seconds = time.perf_counter() - started
    backbone = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    torch.save(backbone, out / WEIGHTS)
    holdout = np.arange(len(corpus.labels) - config.holdout, len(corpus.labels))
    return {
        "weights": WEIGHTS,
        "model_name": config.model_name,
        "train_seconds": round(seconds, 1),
        "losses": losses,
        "holdout_accuracy": accuracy_by_style(model, corpus, holdout),
    }


def pretrain_student(config: PretrainConfig, root: Path | None = None) -> Path:
    """Path of the pretrained backbone weights for `config` (trained once, then cached)."""
    root = root or default_root()
    return cached(root, KIND, config, lambda out: _build(config, root, out)) / WEIGHTS
