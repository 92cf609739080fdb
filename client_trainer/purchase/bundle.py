"""Buy what a method needs, before training (or per step, for the `per-step` policy)."""

from __future__ import annotations

from dataclasses import replace

import torch

from client_trainer.config import RunConfig
from client_trainer.data.images import ImageSet
from client_trainer.data.splits import TaskSplit
from client_trainer.methods.base import AlignmentTargets, TeacherBundle, TeacherNeeds
from client_trainer.purchase.augment_probe import probe_run
from client_trainer.purchase.session import TeacherSession
from client_trainer.selection.subset import bought_subset
from client_trainer.train.batches import TrainTargets


def _clean(session: TeacherSession, task: TaskSplit, bought: torch.Tensor | None) -> torch.Tensor:
    if bought is None:
        return session.images(task.train.paths, "train images")
    rows = bought.nonzero().flatten().tolist()
    found = session.images([task.train.paths[i] for i in rows], "train images")
    clean = torch.zeros(len(task.train), found.shape[1])
    clean[torch.as_tensor(rows, dtype=torch.long)] = found
    return clean


def train_targets(session: TeacherSession, task: TaskSplit, config: RunConfig) -> TrainTargets:
    policy, seed = config.teacher.targets, config.train.seed
    bought = bought_subset(task.train, config)
    if policy.kind == "clean":
        clean = _clean(session, task, bought)
        if config.train.augment == "standard":
            return TrainTargets("clean", clean=clean, bought=bought)
        probe = probe_run(session, task.train, clean, bought, config)
        return TrainTargets("clean", clean=clean, bought=bought,
                            families=frozenset(probe.kept), probe=probe.to_json())  # fmt: skip
    if policy.kind == "views":
        size = config.data.image_size
        views, embeddings = session.views(task.train, policy.views, seed, size, bought)
        return TrainTargets("views", views=views, view_embeddings=embeddings, bought=bought)
    if bought is not None:
        raise ValueError("image_fraction < 1 needs clean or views:K targets, not per-step")
    return TrainTargets("per-step", buy=session.per_step)


def alignment_targets(
    session: TeacherSession, images: ImageSet, how: str, label: str
) -> AlignmentTargets | None:
    """Clean embeddings of `images` to measure alignment on: those in the cache (`cached`,
    nothing bought), all of them (`buy`), or none (`off`)."""
    if how == "off" or len(images) == 0:
        return None
    if how == "buy":
        found = session.images(images.paths, label)
        return AlignmentTargets(torch.arange(len(images)), found)
    rows, found = session.cached_images(images.paths)
    return AlignmentTargets(rows, found)


def buy_bundle(
    session: TeacherSession, task: TaskSplit, needs: TeacherNeeds, config: RunConfig
) -> TeacherBundle:
    text = session.texts(task.classes, config.teacher.prompt_ensemble) if needs.text else None
    train = train_targets(session, task, config) if needs.train_images else TrainTargets("none")
    bundle = TeacherBundle(text, train)
    if needs.eval_images:
        holdout = session.images(task.holdout.paths, "holdout images")
        target = session.images(task.target.paths, "target images")
        bundle = TeacherBundle(text, train, holdout, target)
    if needs.alignment:
        how = config.train.holdout_alignment
        on_target = how if config.train.target_alignment else "off"
        bundle = replace(
            bundle,
            holdout_alignment=alignment_targets(session, task.holdout, how, "holdout images"),
            target_alignment=alignment_targets(session, task.target, on_target, "target images"),
        )
    return bundle
