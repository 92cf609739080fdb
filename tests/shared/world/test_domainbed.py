"""The client's task is written as DomainBed folders the client trainer reads unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from shared.world.config import TaskConfig
from shared.world.domainbed import build_task
from shared.world.grid import sample_grid


def test_task_layout(tmp_path: Path) -> None:
    config = TaskConfig(image_size=16, per_class=3, classes=("cat", "tree"), workers=1)
    root = build_task(config, tmp_path)
    dataset = root / "WORLD_PACS"
    assert sorted(p.name for p in dataset.iterdir()) == sorted(config.domains)
    for domain in config.domains:
        assert sorted(p.name for p in (dataset / domain).iterdir()) == ["cat", "tree"]
        files = sorted((dataset / domain / "cat").glob("*.png"))
        assert len(files) == 3
        assert Image.open(files[0]).size == (16, 16)
    assert build_task(config, tmp_path) == root


def test_task_is_deterministic_per_seed(tmp_path: Path) -> None:
    config = TaskConfig(image_size=16, per_class=2, classes=("fish",), workers=2)
    a = build_task(config, tmp_path / "a") / "WORLD_PACS" / "sketch" / "fish" / "00001.png"
    b = build_task(config, tmp_path / "b") / "WORLD_PACS" / "sketch" / "fish" / "00001.png"
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_sample_grid_has_a_row_per_style(tmp_path: Path) -> None:
    path = sample_grid(tmp_path / "grid.png", classes=("cat", "car", "sun"), image_size=16, zoom=2)
    assert Image.open(path).size == (3 * 32, 5 * 32)
