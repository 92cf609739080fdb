"""The client's task written as DomainBed folders: `<root>/<DATASET>/<domain>/<class>/<n>.png`."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
from PIL import Image

from shared.world.artifacts import cached, default_root
from shared.world.config import TASK_STREAM, TaskConfig
from shared.world.render import render

KIND = "task"


def _write_cell(args: tuple[TaskConfig, int, int, Path]) -> int:
    """Render and write every image of one (domain, class) folder."""
    config, d, c, out = args
    folder = out / config.dataset / config.domains[d] / config.classes[c]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(config.per_class):
        rng = np.random.default_rng([config.seed, TASK_STREAM, d, c, n])
        sample = render(config.classes[c], config.domains[d], config.image_size, rng)
        Image.fromarray(sample.image).save(folder / f"{n:05d}.png")
    return config.per_class


def write_task(config: TaskConfig, out: Path) -> dict[str, object]:
    """Write the task's DomainBed tree under `out`; returns manifest fields."""
    jobs = [
        (config, d, c, out) for d in range(len(config.domains)) for c in range(len(config.classes))
    ]
    if config.workers > 1:
        with mp.get_context("fork").Pool(config.workers) as pool:
            counts = pool.map(_write_cell, jobs)
    else:
        counts = [_write_cell(job) for job in jobs]
    return {"dataset": config.dataset, "n_images": sum(counts)}


def build_task(config: TaskConfig, root: Path | None = None) -> Path:
    """The cached DomainBed root for `config`: pass it as the client's data root;
    the data set itself is `<returned path>/<config.dataset>`."""
    return cached(root or default_root(), KIND, config, lambda out: write_task(config, out))
