"""Named sizes of the client's world: `full` (the demo's) and `micro` (tests, seconds).

Same names as the vendor's teacher profiles (`train-vlm --profile`); a test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from client_trainer.simulation.pretrain import PretrainConfig
from client_trainer.simulation.recipe import Recipe
from shared.world.config import TaskConfig
from shared.world.recipe import recipe_task

PROFILES = ("full", "micro")


@dataclass(frozen=True)
class ClientProfile:
    name: str
    task: TaskConfig  # the client's PACS-like data set
    pretrain: PretrainConfig  # the student's pretraining on the world's "ImageNet"
    recipe: Recipe  # training recipe of every run


def client_profile(name: str) -> ClientProfile:
    full = ClientProfile("full", recipe_task(), PretrainConfig(), Recipe())
    if name == "full":
        return full
    if name == "micro":
        pretrain = replace(
            full.pretrain, corpus=replace(full.pretrain.corpus, n_images=320, workers=1),
            steps=4, batch_size=32, holdout=64, threads=1,
        )  # fmt: skip
        recipe = replace(full.recipe, steps=3, eval_every=2, batch_per_domain=4)
        return ClientProfile("micro", replace(full.task, per_class=4, workers=1), pretrain, recipe)
    raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
