"""One line that says which training regime a table runs in: the demo's short CPU recipe or
the paper's (`--profile paper`), so nobody reads a 150-step table as the paper's experiment."""

from __future__ import annotations

from client_trainer.config import TrainConfig
from client_trainer.simulation.profiles import PAPER_RECIPE


def regime(train: TrainConfig) -> str:
    """The recipe's steps, learning rates, batch and switches, and how it stands to the paper's."""
    head = f", heads at {train.head_lr:g}" if train.head_lr is not None else ""
    bn = "frozen" if train.freeze_bn else "training"
    swad = f"SWAD {train.swad_mode}" if train.swad else "no SWAD"
    line = (
        f"recipe: {train.steps} steps a stage{_align(train)}, backbone at {train.lr:g}{head},"
        f" {train.batch_per_domain} images per source domain a step, BatchNorm {bn}, {swad}"
    )
    if train.steps < PAPER_RECIPE.steps:
        return f"{line}: a short run; the paper's is {PAPER_RECIPE.steps:,} steps (--profile paper)"
    return f"{line}: the paper's length"


def _align(train: TrainConfig) -> str:
    """ADiP's align stage where it runs a length of its own."""
    if train.align_steps is None and train.align_lr is None:
        return ""
    steps, lr = train.align_stage()
    return f" (ADiP's align stage {steps} at {lr:g})"
