"""Clean-view targets under a query budget: buy a chosen share of the training images.

The selection strategy (random, class-balanced, k-center core-set on the student's pretrained
features) picks which images to buy; the rest keep a zero target and a False `bought` flag,
so VL2V-ADiP trains them with the text term alone.
"""

from __future__ import annotations

import torch

from client_trainer.config import RunConfig
from client_trainer.data.images import ImageSet
from client_trainer.purchase.session import TeacherSession
from client_trainer.selection import select
from client_trainer.students.registry import create_student
from client_trainer.train.batches import TrainTargets
from client_trainer.train.device import pick_device
from client_trainer.train.evaluate import eval_features
from client_trainer.train.model import build_student_model


def pretrained_features(train: ImageSet, config: RunConfig) -> torch.Tensor:
    """(N, F) features of the clean training images under the untouched pretrained student."""
    backbone = create_student(config.student, config.data.image_size)
    model = build_student_model(backbone, 1)
    device = pick_device(config.train.device)
    return eval_features(model.to(device), train, device)


def chosen_images(train: ImageSet, config: RunConfig) -> list[int]:
    n = max(1, round(config.teacher.image_budget * len(train)))
    needs_features = config.teacher.selection == "k-center"
    features = pretrained_features(train, config) if needs_features else None
    labels = train.labels.numpy()
    return select(config.teacher.selection, labels, features, n, config.train.seed).tolist()


def budgeted_clean_targets(
    session: TeacherSession, train: ImageSet, config: RunConfig
) -> TrainTargets:
    chosen = chosen_images(train, config)
    bought = torch.zeros(len(train), dtype=torch.bool)
    bought[chosen] = True
    paths = [train.paths[i] for i in chosen]
    embeddings = session.images(paths, "train images (budget)")
    clean = torch.zeros(len(train), embeddings.shape[1], dtype=embeddings.dtype)
    clean[bought] = embeddings
    return TrainTargets("clean", clean=clean, bought=bought)
