"""Named sizes of the client's world: `full` (the demo's), `micro` (tests, seconds) and
`paper` (the full world trained by the paper's recipe, for machines that can afford it).

Same names as the vendor's teacher profiles (`train-vlm --profile`); a test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from client_trainer.simulation.pretrain import PretrainConfig
from client_trainer.simulation.recipe import Recipe
from shared.world.config import TaskConfig
from shared.world.recipe import recipe_task

PROFILES = ("full", "micro", "paper")

# The paper's recipe (PAPER.md): Adam at 5e-5 for every stage and head, 5,001 steps per stage
# (ADiP's align stage too), 32 images per source domain, an evaluation every 200 steps, SWAD in
# both stages (the loss-valley window) and DomainBed's frozen BatchNorm.
PAPER_RECIPE = Recipe(
    steps=5001, lr=5e-5, head_lr=None, align_steps=None, align_lr=None, batch_per_domain=32,
    eval_every=200, swad=True, swad_mode="valley", freeze_bn=True,
)  # fmt: skip


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
        recipe = replace(
            full.recipe, steps=3, align_steps=4, eval_every=2, batch_per_domain=4
        )  # fmt: skip
        return ClientProfile("micro", replace(full.task, per_class=4, workers=1), pretrain, recipe)
    if name == "paper":  # the same world (task, student, teacher), the paper's training
        return replace(
            full, name="paper", recipe=replace(PAPER_RECIPE, image_size=full.recipe.image_size)
        )
    raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
