"""Training curves of each table row, read from its runs' `log.jsonl`.

A run's log has one JSON object per logged step: `step` (global, across stages), `stage`,
`loss`, and `holdout_acc` at the steps where the source holdout was evaluated. A row's curve
is, at each step, the mean over its runs that logged that step.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_FILE = "log.jsonl"


@dataclass
class RowCurves:
    row: str
    loss: dict[int, list[float]] = field(default_factory=dict)  # step -> one value per run
    holdout_acc: dict[int, list[float]] = field(default_factory=dict)
    runs: int = 0

    def mean(self, which: str) -> list[tuple[int, float]]:
        points: dict[int, list[float]] = getattr(self, which)
        return [(step, statistics.fmean(values)) for step, values in sorted(points.items())]


def read_log(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a log.jsonl (a line cut short by a kill is skipped)."""
    records = []
    for text in path.read_text().splitlines():
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def row_curves(run_dirs: Sequence[Path], rows: Sequence[str]) -> list[RowCurves]:
    """Curves per row label (`rows[i]` is the row of `run_dirs[i]`), rows without logs left out."""
    by_row: dict[str, RowCurves] = {}
    for directory, row in zip(run_dirs, rows, strict=True):
        path = directory / LOG_FILE
        if not path.is_file():
            continue
        records = read_log(path)
        if not records:
            continue
        curves = by_row.setdefault(row, RowCurves(row))
        curves.runs += 1
        for record in records:
            step = record["step"]
            if isinstance(record.get("loss"), int | float):
                curves.loss.setdefault(step, []).append(float(record["loss"]))
            if isinstance(record.get("holdout_acc"), int | float):
                curves.holdout_acc.setdefault(step, []).append(float(record["holdout_acc"]))
    return [by_row[row] for row in dict.fromkeys(rows) if row in by_row]
