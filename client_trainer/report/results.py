"""`results.jsonl`: the one line a finished run appends to its directory, and how it is read.

A run is finished when its line exists: `table` skips it on a rerun, `collect` builds tables
from these lines alone. The line holds the scores, what the run used from the teacher (bought
now, or read from the cache an earlier run filled), the vendor's list prices, the wall time
and the run's whole config (API key masked). `collect` reads the last line of each file: a run
that is started again under the same name appends a newer line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.report.rows import row_label
from client_trainer.train.device import pick_device
from shared.schemas import ModelCard

RESULTS_FILE = "results.jsonl"
SCHEMA = 1

# Fields that say where or how a run ran, not what it computed: two runs that differ only in
# these are the same run (a local vendor listens on a new port each time, a rerun may use
# another Redis, worker count or GPU).
PLACE_FIELDS = {
    "teacher": ("vendor_url", "api_key", "redis_url", "redis_prefix", "cap", "max_in_flight",
                "max_inputs_per_request", "max_attempts", "timeout_s"),
    "train": ("device", "threads"),
    "output": ("out_dir", "run_name", "progress"),
}  # fmt: skip


def run_identity(config: dict[str, Any]) -> str:
    """A canonical string of what a run computes: its config without the place fields."""
    kept = {
        section: {k: v for k, v in fields.items() if k not in PLACE_FIELDS.get(section, ())}
        for section, fields in config.items()
    }
    return json.dumps(kept, sort_keys=True, default=str)


def used_queries(metrics: dict[str, Any]) -> tuple[int, int]:
    """(image, text) queries a run used: bought by it, or read from the cache."""
    return (
        int(metrics["image_queries"]) + int(metrics.get("image_cache_hits", 0)),
        int(metrics["text_queries"]) + int(metrics.get("text_cache_hits", 0)),
    )


def card_prices(card: ModelCard) -> tuple[int, int]:
    """The vendor's (image, text) list prices in credits, as /v1/models states them."""
    return card.price_per_image, card.price_per_text


def result_line(
    config: RunConfig, metrics: dict[str, Any], prices: tuple[int, int] | None
) -> dict[str, Any]:
    """The results.jsonl line of a finished run; `prices` = the vendor's (image, text) list
    prices in credits, None when the run asked the teacher nothing."""
    images, texts = used_queries(metrics)
    list_cost = 0 if prices is None else images * prices[0] + texts * prices[1]
    return {
        "schema": SCHEMA,
        "row": row_label(config),
        "method": config.train.method,
        "dataset": config.data.dataset,
        "student": config.student.name,
        "targets": str(config.teacher.targets),
        "test_domain": metrics["test_domain"],
        "seed": config.train.seed,
        "id_acc": metrics["id_acc"],
        "ood_acc": metrics["ood_acc"],
        "image_queries": images,
        "text_queries": texts,
        "image_cache_hits": int(metrics.get("image_cache_hits", 0)),
        "text_cache_hits": int(metrics.get("text_cache_hits", 0)),
        "cost": int(metrics["cost"]),
        "list_cost": list_cost,
        "prices": None if prices is None else {"image": prices[0], "text": prices[1]},
        "wall_s": metrics["wall_s"],
        "device": str(pick_device(config.train.device)),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),  # the worker's GPU
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "stages": metrics.get("stages", []),
        "augment": metrics.get("augment"),
        "config": config.public_dict(),
    }


def append_result(directory: Path, line: dict[str, Any]) -> Path:
    """Append one line with a single write and fsync it: a reader sees the whole line or none."""
    path = directory / RESULTS_FILE
    data = (json.dumps(line, sort_keys=True, default=str) + "\n").encode()
    with path.open("ab") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return path


def last_result(path: Path) -> dict[str, Any] | None:
    """The last complete line of a results.jsonl file, or None (missing, empty, cut short)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    for text in reversed(lines):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and line.get("schema") == SCHEMA:
            return line
    return None


def results_files(directories: Iterable[Path]) -> Iterator[Path]:
    """Every results.jsonl under `directories` (recursively), in sorted path order."""
    for directory in directories:
        if directory.is_file() and directory.name == RESULTS_FILE:
            yield directory
            continue
        yield from sorted(directory.rglob(RESULTS_FILE))


def finished_runs(directories: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """The last line of each run under `directories`, by run identity (first path wins)."""
    found: dict[str, dict[str, Any]] = {}
    for path in results_files(directories):
        line = last_result(path)
        if line is not None:
            found.setdefault(run_identity(line["config"]), line | {"run_dir": str(path.parent)})
    return found
