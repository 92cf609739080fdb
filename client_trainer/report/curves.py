"""Training curves of each table row, read from its runs' `log.jsonl`.

A run's log (`client_trainer.train.run_log`) has one JSON object per logged step: `step`
(global, across stages), `stage`, `loss`, and `holdout_acc` at the steps where the source
holdout was evaluated. A step logged twice by one run (a stage's end and the next stage's
start share a step) counts once, with its last value. A row's curve is, at each step, the
mean over its runs that logged that step.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_FILE = "log.jsonl"  # written by client_trainer.train.run_log


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


def _last_per_step(records: list[dict[str, Any]], key: str) -> dict[int, float]:
    values: dict[int, float] = {}
    for record in records:
        value = record.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[record["step"]] = float(value)
    return values


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
        for which in ("loss", "holdout_acc"):
            for step, value in _last_per_step(records, which).items():
                getattr(curves, which).setdefault(step, []).append(value)
    return [by_row[row] for row in dict.fromkeys(rows) if row in by_row]
