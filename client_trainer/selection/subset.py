"""Which training images a budgeted run buys targets for: the configured strategy over the
training set, on the pretrained student's features where the strategy needs them."""

from __future__ import annotations

import torch

from client_trainer.config import RunConfig
from client_trainer.data.images import ImageSet
from client_trainer.selection.registry import get_strategy, select
from client_trainer.students.registry import create_student
from client_trainer.train.device import pick_device
from client_trainer.train.evaluate import eval_features
from client_trainer.train.model import build_student_model


def bought_subset(train: ImageSet, config: RunConfig) -> torch.Tensor | None:
    """(N,) bool of the training images whose targets are bought; None = all of them.

    Which ones: the configured selection strategy (random, class-balanced, or a k-center
    core-set on the untouched pretrained student's features), seeded by the run's seed.
    """
    fraction = config.teacher.image_fraction
    if fraction >= 1.0:
        return None
    features = None
    if get_strategy(config.teacher.selection).needs_features:
        features = pretrained_features(train, config)
    n = max(1, round(len(train) * fraction))
    chosen = select(config.teacher.selection, train.labels.numpy(), features, n, config.train.seed)
    mask = torch.zeros(len(train), dtype=torch.bool)
    mask[torch.as_tensor(chosen, dtype=torch.long)] = True
    return mask


def pretrained_features(train: ImageSet, config: RunConfig) -> torch.Tensor:
    """(N, F) features of the clean training images under the pretrained student (a random
    init is seeded by the run's seed, without touching the global generator)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        model = build_student_model(create_student(config.student, config.data.image_size), 1)
    device = pick_device(config.train.device)
    return eval_features(model.to(device), train, device)
