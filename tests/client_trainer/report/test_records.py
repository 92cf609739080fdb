"""The order of a table's rows: the teacher, the linear probe, the fine-tunes, KD, ADiP's align
stage, ADiP; within a method its target policies by price."""

from __future__ import annotations

from client_trainer.report.records import ResultRow, knobs_of, row_order


def _row(method: str, label: str = "") -> ResultRow:
    return ResultRow(method, "sketch", 0, 0.5, 0.5, 0, 0, 0, label)


def test_rows_follow_the_method_order_and_policies_their_price() -> None:
    labels = [
        ("vl2v-adip", "vl2v-adip [per-step]"), ("vl2v-adip", ""), ("kd", "kd [views:8]"),
        ("vl2v-adip", "vl2v-adip [views:8]"), ("vl2v-adip", "vl2v-adip [views:2]"),
        ("vl2v-adip-align", ""), ("erm", ""), ("erm", "erm [linear-probe]"), ("lp-ft", ""),
        ("zero-shot", ""), ("kd", ""), ("vl2v-adip", "vl2v-adip [swad tail]"), ("mine", ""),
        ("erm", "erm [linear-probe, swad tail]"),
    ]  # fmt: skip
    assert row_order([_row(m, label) for m, label in labels]) == [
        "zero-shot", "erm [linear-probe]", "erm [linear-probe, swad tail]", "erm", "lp-ft", "kd",
        "kd [views:8]", "vl2v-adip-align", "vl2v-adip", "vl2v-adip [views:2]",
        "vl2v-adip [views:8]", "vl2v-adip [per-step]", "vl2v-adip [swad tail]", "mine",
    ]  # fmt: skip


def test_knobs_of_a_label() -> None:
    assert knobs_of("kd [views:4, swad]", "kd") == ["views:4", "swad"]
    assert knobs_of("kd", "kd") == []
