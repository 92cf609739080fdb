"""Fixtures of the client trainer's tests: a tiny data tree and a quick run config."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_trainer.config import RunConfig
from tests.client_trainer.tree import make_tree
from tests.support.run_config import quick_config


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("tiny-domainbed"))


@pytest.fixture
def quick(tiny_root: Path, tmp_path: Path) -> RunConfig:
    return quick_config(tiny_root, tmp_path / "runs")
