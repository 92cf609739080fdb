"""Flags generated from RunConfig: every field has one, with its description and default in
--help; aliases, env vars and the --config file combine as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from client_trainer.cli import app
from client_trainer.config import RunConfig
from client_trainer.config_flags import ConfigRequest, pick, run_config_flags

WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}
# The env vars that set flags, unset: a developer's own settings must not leak into the tests.
NO_FLAG_ENV: dict[str, str | None] = dict.fromkeys(
    ("VENDOR_URL", "VENDOR_API_KEY", "REDIS_URL", "CLIENT_REDIS_PREFIX")
)


def every_field() -> list[tuple[str, FieldInfo]]:
    """(dotted path, field) of each RunConfig field, read from the model itself."""
    out = []
    for section, info in RunConfig.model_fields.items():
        assert isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        out += [(f"{section}.{n}", f) for n, f in info.annotation.model_fields.items()]
    return out


def flat(text: str) -> str:
    """Help text without box drawing and line breaks, so a wrapped cell reads as one line."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="module")
def train_help() -> str:
    result = CliRunner().invoke(app, ["train", "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return flat(result.output)


@pytest.mark.parametrize(("path", "field"), every_field(), ids=lambda v: str(v)[:40])
def test_train_help_shows_every_field_with_its_description_and_default(
    path: str, field: FieldInfo, train_help: str
) -> None:
    assert field.description, f"{path} has no description to be its help"
    default = field.get_default(call_default_factory=True)
    described = re.escape(" ".join(field.description.split()))
    if default is None or isinstance(default, SecretStr):
        assert re.search(described, train_help), path
        return
    shown = r"[a-z-]+" if isinstance(default, bool) else re.escape(str(default))
    pattern = described + r"(?: \[env var: [A-Z_]+\])? \[default: " + shown + r"\]"
    assert re.search(pattern, train_help), f"{path}: no '{field.description} [default: ...]'"


def test_todays_flag_names_are_all_offered(train_help: str) -> None:
    for flag in (
        "--data-root", "--max-per-domain", "--student", "--student-init", "--student-weights",
        "--student-module", "--per-request", "--prompt-ensemble", "--single-prompt", "--quiet",
        "--vendor-url", "--api-key", "--redis-url", "--redis-prefix", "--swad", "--no-swad",
    ):  # fmt: skip
        assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,]|$)", train_help), flag
    for envvar in ("VENDOR_URL", "VENDOR_API_KEY", "REDIS_URL", "CLIENT_REDIS_PREFIX"):
        assert f"[env var: {envvar}]" in train_help


def _capture(paths: tuple[str, ...]) -> tuple[typer.Typer, list[ConfigRequest]]:
    seen: list[ConfigRequest] = []
    probe = typer.Typer()

    @probe.command()
    @run_config_flags(paths)
    def show(request: ConfigRequest, label: str = "x") -> None:
        seen.append(request)

    @probe.command()
    def other() -> None: ...  # a second command, so `show` is addressed by name

    return probe, seen


def _request(args: list[str], env: dict[str, str] | None = None) -> ConfigRequest:
    probe, seen = _capture(pick("*"))
    result = CliRunner().invoke(probe, ["show", *args], env={**NO_FLAG_ENV, **(env or {})})
    assert result.exit_code == 0, result.output
    return seen[-1]


def test_aliases_and_env_vars_set_their_fields() -> None:
    request = _request(
        ["--per-request", "3", "--max-per-domain", "5", "--single-prompt", "--quiet",
         "--student", "test_vit", "--student-init", "timm", "--targets", "views:2"],
        env={"VENDOR_URL": "http://v:1", "VENDOR_API_KEY": "sk-9"},
    )  # fmt: skip
    assert request.overrides == {
        "teacher.max_inputs_per_request": 3,
        "data.max_images_per_domain": 5,
        "teacher.prompt_ensemble": False,
        "output.progress": False,
        "student.name": "test_vit",
        "student.init": "timm",
        "teacher.targets": "views:2",
        "teacher.vendor_url": "http://v:1",
        "teacher.api_key": "sk-9",
    }
    config = request.load()
    assert config.teacher.max_inputs_per_request == 3 and str(config.teacher.targets) == "views:2"
    assert config.teacher.api_key.get_secret_value() == "sk-9"


def test_only_flags_given_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[train]\nsteps = 7\nswad = true\n[student]\nname = "test_vit"\n')
    request = _request(["--config", str(path), "--lr", "0.01"], env={"VENDOR_URL": ""})  # unset
    assert request.overrides == {"train.lr": 0.01}
    config = request.load()
    assert (config.train.steps, config.train.swad, config.train.lr) == (7, True, 0.01)
    assert request.chose("student.name") and request.chose("train.lr")
    assert not request.chose("train.seed")
    assert _request(["--config", str(path), "--steps", "9"]).load().train.steps == 9


def test_a_command_takes_only_the_fields_it_picks() -> None:
    runner = CliRunner()
    buy = flat(runner.invoke(app, ["buy", "--help"], env=WIDE).output)
    evaluate = flat(runner.invoke(app, ["evaluate", "--help"], env=WIDE).output)
    assert "--per-request" in buy and "--steps" not in buy and "--selection" not in buy
    assert "--data-root" in evaluate and "--vendor-url" not in evaluate
    assert pick("data", "train.seed", without=("data.root",))[0] == "data.dataset"
    with pytest.raises(KeyError):
        pick("nope")


def test_a_flag_that_repeats_a_command_parameter_is_refused() -> None:
    def command(request: ConfigRequest, steps: int = 1) -> Any: ...

    with pytest.raises(ValueError, match="repeat its own"):
        run_config_flags(pick("train.steps"))(command)
