"""Targets: parsed once from their string when the config loads, written back the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from client_trainer.config import RunConfig, load_config
from client_trainer.target_policy import TargetPolicy


@pytest.mark.parametrize("spec", ["views:0", "views", "sometimes", "views:x"])
def test_bad_targets_are_refused(spec: str) -> None:
    with pytest.raises(ValidationError):
        RunConfig().with_overrides({"teacher.targets": spec})


def test_targets_parse_once_and_keep_their_spelling(tmp_path: Path) -> None:
    assert TargetPolicy.parse("clean") == TargetPolicy("clean")
    assert TargetPolicy.parse("views:4") == TargetPolicy("views", 4)
    assert TargetPolicy.parse("per-step") == TargetPolicy("per-step")
    for spec in ("clean", "views:4", "per-step"):
        config = RunConfig().with_overrides({"teacher.targets": spec})
        assert config.teacher.targets == TargetPolicy.parse(spec)
        assert str(config.teacher.targets) == spec
        assert config.public_dict()["teacher"]["targets"] == spec  # metrics.json's spelling
        path = tmp_path / "run.json"
        path.write_text(config.model_dump_json())
        assert load_config(path).teacher.targets == config.teacher.targets


def test_a_policy_cannot_be_built_inconsistent() -> None:
    with pytest.raises(ValueError):
        TargetPolicy("views", 0)
    with pytest.raises(ValueError):
        TargetPolicy("clean", 2)
