"""Buy what a method needs, before training (or per step, for the `per-step` policy)."""

from __future__ import annotations

from client_trainer.config import RunConfig, parse_targets
from client_trainer.data.splits import TaskSplit
from client_trainer.methods.base import TeacherBundle, TeacherNeeds
from client_trainer.purchase.session import TeacherSession
from client_trainer.train.batches import TrainTargets


def train_targets(session: TeacherSession, task: TaskSplit, config: RunConfig) -> TrainTargets:
    kind, k_views = parse_targets(config.teacher.targets)
    if kind == "clean":
        return TrainTargets("clean", clean=session.images(task.train, "train images"))
    if kind == "views":
        views, embeddings = session.views(
            task.train, k_views, config.train.seed, config.data.image_size
        )
        return TrainTargets("views", views=views, view_embeddings=embeddings)
    return TrainTargets("per-step", buy=session.per_step)


def buy_bundle(
    session: TeacherSession, task: TaskSplit, needs: TeacherNeeds, config: RunConfig
) -> TeacherBundle:
    text = session.texts(task.classes, config.teacher.prompt_ensemble) if needs.text else None
    train = train_targets(session, task, config) if needs.train_images else TrainTargets("none")
    if not needs.eval_images:
        return TeacherBundle(text, train)
    holdout = session.images(task.holdout, "holdout images")
    target = session.images(task.target, "target images")
    return TeacherBundle(text, train, holdout, target)
