"""Run directories and their `metrics.json`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from client_trainer.config import RunConfig

METRICS_FILE = "metrics.json"
CHECKPOINT_FILE = "checkpoint.pt"


def default_run_name(config: RunConfig, test_domain: str) -> str:
    c = config
    raw = (
        f"{c.data.dataset}-{test_domain}-{c.train.method}-{c.student.name}"
        f"-{c.teacher.targets}-s{c.train.seed}"
    )
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", raw)


def run_dir(config: RunConfig, name: str) -> Path:
    path = config.output.out_dir / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_metrics(directory: Path, metrics: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename): a reader never sees half a file."""
    target = directory / METRICS_FILE
    temp = target.with_suffix(".json.tmp")
    temp.write_text(json.dumps(metrics, indent=2, sort_keys=True, default=str))
    temp.replace(target)
    return target


def read_metrics(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / METRICS_FILE).read_text())
    return data
