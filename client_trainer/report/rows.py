"""The row of a results table a run belongs to: its method plus every variant knob that makes
it a different row (`vl2v-adip [per-step]`, `kd [views:4]`, `erm [linear-probe]`,
`vl2v-adip [teacher-consistent aug]`).

One function, `row_label`, decides it for every table, report and `results.jsonl` line. A knob
goes into the label only when it is not its default and the method uses it; hyperparameters
(learning rate, steps, ...) are not rows: `collect` flags a row whose runs differ in them. The
official recipe's switches are rows, so one table shows a method with and without each:
`frozen bn`, `swad valley` / `swad tail`, and ADiP's own align stage (`align 1500@0.001`).
A new variant knob adds one line to `variant_knobs`.
"""

from __future__ import annotations

from client_trainer.config import RunConfig
from client_trainer.methods import get_method

# Methods with VL2V-ADiP's align stage (its own steps and learning rate).
ALIGN_METHODS = ("vl2v-adip", "vl2v-adip-align")


def variant_knobs(config: RunConfig) -> list[str]:
    """The non-default variant settings of a run that its method uses, in a fixed order."""
    train, teacher = config.train, config.teacher
    needs = get_method(train.method).needs
    knobs: list[str] = []
    if train.method == "erm" and train.erm_variant != "full":
        knobs.append(train.erm_variant)
    if needs.train_images and teacher.targets.kind != "clean":
        knobs.append(str(teacher.targets))
    if needs.train_images and teacher.targets.kind == "clean" and train.augment != "standard":
        knobs.append(f"{train.augment} aug")
    if needs.train_images and teacher.image_fraction < 1:
        knobs.append(f"images:{teacher.image_fraction:g} {teacher.selection}")
    if needs.text and teacher.prompt_ensemble:
        knobs.append("prompt ensemble")
    if train.method != "zero-shot":
        knobs.extend(_recipe_switches(config))
    return knobs


def _recipe_switches(config: RunConfig) -> list[str]:
    """The official recipe's switches a trained run turned on, in a fixed order."""
    train = config.train
    switches: list[str] = []
    own_align = train.align_steps is not None or train.align_lr is not None
    if own_align and train.method in ALIGN_METHODS:
        lr = "" if train.align_lr is None else f"@{train.align_lr:g}"
        switches.append(f"align {train.align_stage()[0]}{lr}")
    if train.freeze_bn:
        switches.append("frozen bn")
    if train.swad:
        switches.append(f"swad {train.swad_mode}")
    return switches


def is_recipe_switch(knob: str) -> bool:
    """Whether a row's knob is one of the official recipe's switches (`_recipe_switches`)."""
    return knob == "frozen bn" or knob.startswith(("align ", "swad "))


def row_label(config: RunConfig) -> str:
    """`<method>` or `<method> [knob, knob]`: the table row of a run with this config."""
    knobs = variant_knobs(config)
    return f"{config.train.method} [{', '.join(knobs)}]" if knobs else config.train.method
