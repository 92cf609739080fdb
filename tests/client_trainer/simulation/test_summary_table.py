"""The printed results table shows each row's whole label, however narrow the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from client_trainer.report import Summary
from client_trainer.simulation.summary_table import print_methods, print_paired


def test_a_policy_row_keeps_its_whole_label_on_a_narrow_terminal() -> None:
    demo = Path(__file__).parent / "data" / "demo_summary.json"
    summary = Summary.from_json(json.loads(demo.read_text()))
    console = Console(record=True, width=60, force_terminal=False)
    print_methods(console, summary)
    printed = console.export_text()
    for label in ("vl2v-adip [views:4]", "vl2v-adip [per-step]"):
        assert label in printed, printed


def test_progress_lines_print_row_labels_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    from client_trainer.simulation.demo import announce

    announce("vl2v-adip [views:4] | held-out sketch | seed 0: OOD 70.6, 41 s")
    assert "vl2v-adip [views:4] | held-out sketch" in capsys.readouterr().err


def test_the_paired_intervals_are_printed_beside_the_table() -> None:
    demo = Path(__file__).parent / "data" / "demo_summary.json"
    summary = Summary.from_json(json.loads(demo.read_text()))
    console = Console(record=True, width=60, force_terminal=False)
    print_paired(console, summary)
    lines = console.export_text().splitlines()
    assert lines[-2:] == ["against erm:", "  vl2v-adip: -3.4 [-55.1, +48.2] (2 pairs)"], lines


def test_nothing_is_printed_without_a_baseline() -> None:
    demo = Path(__file__).parent / "data" / "demo_summary.json"
    summary = Summary.from_json(json.loads(demo.read_text()))
    summary.results[:] = [r for r in summary.results if r.method != "erm"]
    console = Console(record=True, width=60, force_terminal=False)
    print_paired(console, summary)
    assert console.export_text() == ""
