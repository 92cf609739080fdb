"""The row of a results table a run belongs to: its method plus every variant knob that makes
it a different row (`vl2v-adip [per-step]`, `kd [views:4]`, `erm [linear-probe]`,
`vl2v-adip [teacher-consistent aug]`).

One function, `row_label`, decides it for every table, report and `results.jsonl` line. A knob
goes into the label only when it is not its default and the method uses it; hyperparameters
(learning rate, steps, ...) are not rows: `collect` flags a row whose runs differ in them.
A new variant knob adds one line to `variant_knobs`.
"""

from __future__ import annotations

from client_trainer.config import RunConfig
from client_trainer.methods import get_method


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
    if train.swad and train.method != "zero-shot":
        knobs.append("swad")
    return knobs


def row_label(config: RunConfig) -> str:
    """`<method>` or `<method> [knob, knob]`: the table row of a run with this config."""
    knobs = variant_knobs(config)
    return f"{config.train.method} [{', '.join(knobs)}]" if knobs else config.train.method
