"""Train the vendor's small CLIP with open_clip's contrastive loss on the world's captions.

`train_vlm(config)` returns a cached artefact directory holding `world-clip.pt`, a plain
state dict that `open_clip.create_model_and_transforms(name, pretrained=<file>)` loads.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch

from shared.world.artifacts import cached, default_root
from shared.world.corpus import build_corpus, load_corpus
from vendor_service.engine.model_configs import register_model_configs
from vendor_service.vlm.batches import CaptionSampler, augment, to_tensor
from vendor_service.vlm.config import VLMTrainConfig
from vendor_service.vlm.precision import autocast
from vendor_service.vlm.zero_shot import zero_shot_by_style

log = logging.getLogger(__name__)

KIND = "vlm"
CHECKPOINT = "world-clip.pt"


def _lr_at(step: int, config: VLMTrainConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


def _fit(
    model: torch.nn.Module, sampler: CaptionSampler, images: np.ndarray, config: VLMTrainConfig
) -> list[float]:
    """The contrastive training loop; returns the loss every 50 steps.

    Convolutions run channels-last (faster on CPU in either precision); the model is put back
    in the default layout before it is saved.
    """
    loss_fn = open_clip.ClipLoss()
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    gen = torch.Generator().manual_seed(config.seed)
    order = np.random.default_rng([config.seed, 1])
    n_train, losses = len(images) - config.holdout, []
    model.to(memory_format=torch.channels_last)
    model.train()
    for step in range(config.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, config)
        index = np.sort(order.choice(n_train, config.batch_size, replace=False))
        x = augment(to_tensor(images[index]), gen).contiguous(memory_format=torch.channels_last)
        with autocast(config.precision):
            image_f, text_f, scale = model(x, sampler.tokens(index))[:3]
        loss = loss_fn(image_f.float(), text_f.float(), scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == config.steps - 1:
            losses.append(round(loss.item(), 4))
            log.info(
                "world-clip step %d/%d, contrastive loss %.3f", step + 1, config.steps, losses[-1]
            )
    model.to(memory_format=torch.contiguous_format)
    return losses


@torch.no_grad()
def encode_throughput(
    model: torch.nn.Module, image_size: int, n: int = 512, batch: int = 128
) -> float:
    """Raw `encode_image` images per second on random inputs (after one warm-up batch)."""
    model.eval()
    x = torch.randn(batch, 3, image_size, image_size)
    model.encode_image(x)  # type: ignore[operator]
    started = time.perf_counter()
    for _ in range(max(1, n // batch)):
        model.encode_image(x)  # type: ignore[operator]
    return max(1, n // batch) * batch / (time.perf_counter() - started)


def _throughput(model: torch.nn.Module, config: VLMTrainConfig) -> float | None:
    if config.throughput_images <= 0:
        return None
    size = config.corpus.image_size
    return round(encode_throughput(model, size, n=config.throughput_images), 1)


def _build(config: VLMTrainConfig, corpus_root: Path, out: Path) -> dict[str, Any]:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    register_model_configs()
    corpus = load_corpus(build_corpus(config.corpus, corpus_root), mmap=False)
    model = open_clip.create_model(config.model_name)
    tokenizer = open_clip.get_tokenizer(config.model_name)
    sampler = CaptionSampler(corpus, config.captions, tokenizer, config.seed)
    started = time.perf_counter()
    losses = _fit(model, sampler, corpus.images, config)
    seconds = time.perf_counter() - started
    torch.save(model.state_dict(), out / CHECKPOINT)
    holdout = np.arange(len(corpus.labels) - config.holdout, len(corpus.labels))
    return {
        "checkpoint": CHECKPOINT,
        "model_name": config.model_name,
        "train_seconds": round(seconds, 1),
        "losses": losses,
        "zero_shot_holdout": zero_shot_by_style(model, tokenizer, corpus, holdout),
        "encode_image_per_s": _throughput(model, config),
    }


def train_vlm(config: VLMTrainConfig, root: Path | None = None) -> Path:
    """Path of the trained checkpoint file for `config` (trained on first use, then cached).

    The corpus is generated (or reused) under the same artefact root.
    """
    root = root or default_root()
    directory = cached(root, KIND, config, lambda out: _build(config, root, out))
    return directory / CHECKPOINT
