"""row_label: the method, plus the variant knobs that make another table row."""

from __future__ import annotations

import pytest

from client_trainer.config import RunConfig
from client_trainer.report.rows import row_label


def _label(**fields: object) -> str:
    return row_label(RunConfig().with_overrides(fields))


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({"train.method": "erm"}, "erm"),
        ({"train.method": "erm", "train.erm_variant": "linear-probe"}, "erm [linear-probe]"),
        ({"train.method": "vl2v-adip", "teacher.targets": "per-step"}, "vl2v-adip [per-step]"),
        ({"train.method": "kd", "teacher.targets": "views:4"}, "kd [views:4]"),
        (
            {"train.method": "vl2v-adip", "teacher.image_fraction": 0.05,
             "teacher.selection": "k-center"},
            "vl2v-adip [images:0.05 k-center]",
        ),
        ({"train.method": "kd", "train.swad": True, "teacher.prompt_ensemble": True},
         "kd [prompt ensemble, swad tail]"),
        ({"train.method": "erm", "train.swad": True, "train.swad_mode": "valley",
          "train.freeze_bn": True}, "erm [frozen bn, swad valley]"),
        ({"train.method": "vl2v-adip", "teacher.targets": "views:1", "train.align_steps": 1500,
          "train.align_lr": 1e-3}, "vl2v-adip [views:1, align 1500@0.001]"),
        ({"train.method": "vl2v-adip-align", "train.align_lr": 1e-3},
         "vl2v-adip-align [align 200@0.001]"),
        ({"train.method": "vl2v-adip", "train.augment": "teacher-consistent"},
         "vl2v-adip [teacher-consistent aug]"),
        # Views and per-step targets describe the view the student sees: no probe, no row.
        ({"train.method": "kd", "train.augment": "teacher-consistent",
          "teacher.targets": "views:4"}, "kd [views:4]"),
        ({"train.method": "erm", "train.augment": "teacher-consistent"}, "erm"),
    ],
)  # fmt: skip
def test_labels(fields: dict[str, object], label: str) -> None:
    assert _label(**fields) == label


def test_a_knob_the_method_does_not_use_is_no_row() -> None:
    # ERM buys no targets and LP-FT has no ERM variant: the same row as their defaults.
    assert _label(**{"train.method": "erm", "teacher.targets": "per-step"}) == "erm"
    assert _label(**{"train.method": "lp-ft", "train.erm_variant": "linear-probe"}) == "lp-ft"
    # Hyperparameters are not rows (collect says when a row mixes them).
    assert _label(**{"train.method": "vl2v-adip", "train.lr": 1e-3}) == "vl2v-adip"
    # Only ADiP has an align stage; zero-shot trains nothing.
    assert _label(**{"train.method": "erm", "train.align_steps": 1500}) == "erm"
    assert _label(**{"train.method": "zero-shot", "train.freeze_bn": True}) == "zero-shot"
