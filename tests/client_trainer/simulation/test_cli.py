"""`table`, `sweep-budget`, `quote`, `collect`: their flags, and the clear errors a data set of
one's own gets without a vendor (no world is built, no vendor is started for it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client_trainer.cli import app
from tests.client_trainer.tree import DATASET
from tests.support.live_vendor import free_port

WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}
NO_VENDOR: dict[str, str | None] = dict.fromkeys(("VENDOR_URL", "VENDOR_API_KEY", "REDIS_URL"))


def _help(command: str) -> set[str]:
    result = CliRunner().invoke(app, [command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return set(re.findall(r"--[a-z][a-z-]+", result.output))


def test_table_takes_a_data_set_as_train_does() -> None:
    flags = _help("table")
    wanted = {"--data-root", "--dataset", "--test-domains", "--methods", "--seeds",
              "--student", "--student-init", "--student-weights", "--vendor-url", "--api-key",
              "--steps", "--max-cost", "--profile", "--workers", "--out", "--artifacts",
              "--config", "--targets"}  # fmt: skip
    assert wanted <= flags
    assert not {"--seed", "--method", "--test-domain", "--run-name", "--out-dir"} & flags


def test_sweep_budget_takes_a_data_set_and_keeps_its_own_axes() -> None:
    flags = _help("sweep-budget")
    assert {"--data-root", "--test-domain", "--seed", "--fractions", "--strategies",
            "--policies", "--max-cost", "--student"} <= flags  # fmt: skip
    assert not {"--targets", "--image-fraction", "--selection", "--methods"} & flags


def test_quote_and_collect_help() -> None:
    assert {"--methods", "--test-domains", "--seeds", "--vendor-url", "--data-root"} <= _help(
        "quote"
    )
    assert "--out" in _help("collect")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs a vendor's API key"),
        (["--api-key", "k", "--vendor-url", "http://127.0.0.1:{port}"], "no vendor answers at"),
    ],
)
def test_a_data_set_without_a_vendor_is_a_clear_error(
    extra: list[str], message: str, tiny_root: Path, tmp_path: Path
) -> None:
    extra = [e.format(port=free_port()) for e in extra]
    result = CliRunner().invoke(
        app,
        ["table", "--data-root", str(tiny_root), "--dataset", DATASET, "--out", str(tmp_path),
         "--artifacts", str(tmp_path / "no-world"), *extra],
        env=NO_VENDOR,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "no-world").exists()  # no world was built


def test_collect_of_nothing_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["collect", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such directory" in result.output
    empty = CliRunner().invoke(app, ["collect", str(tmp_path)])
    assert empty.exit_code == 2 and "no finished run" in empty.output
