"""The console scripts pyproject.toml installs run the same commands as `python -m`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the venv's bin folder, where pip puts the scripts
SCRIPTS = {
    "clip-distill": ("train", "table", "quote", "collect"),
    "clip-vendor": ("serve", "keys"),
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_console_script_prints_its_commands(script: str) -> None:
    path = BIN / script
    assert path.is_file(), f"{script} is not installed in {BIN}: run make install"
    result = subprocess.run(
        [str(path), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for command in SCRIPTS[script]:
        assert command in result.stdout, f"{script} --help does not list {command}"
