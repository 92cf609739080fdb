"""Run config: one TOML/JSON file, overridden field by field; bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from client_trainer.config import RunConfig, load_config


def test_toml_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        '[data]\nroot = "/data"\ndataset = "PACS"\ntest_domain = "sketch"\n'
        '[train]\nmethod = "kd"\nsteps = 7\n[teacher]\ntargets = "views:3"\napi_key = "sk-1"\n'
    )
    config = load_config(path).with_overrides({"train.steps": 9, "train.lr": None})
    assert config.data.test_domain == "sketch" and config.train.method == "kd"
    assert config.train.steps == 9 and config.train.lr == 5e-5  # None leaves the file's value
    assert config.teacher.api_key.get_secret_value() == "sk-1"
    assert config.public_dict()["teacher"]["api_key"] == "***"


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"train": {"swad": true}}')
    assert load_config(path).train.swad is True


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        RunConfig().with_overrides({"train.nope": 1})
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nstepz = 3\n")
    with pytest.raises(ValidationError):
        load_config(path)


def test_the_align_stage_runs_its_own_length_else_the_stage_length_at_the_head_rate() -> None:
    train = RunConfig().with_overrides({"train.steps": 150, "train.head_lr": 1e-3}).train
    assert train.align_stage() == (150, 1e-3)
    own = train.model_copy(update={"align_steps": 1500, "align_lr": 5e-4})
    assert own.align_stage() == (1500, 5e-4)
    assert train.model_copy(update={"head_lr": None}).align_stage() == (150, train.lr)
