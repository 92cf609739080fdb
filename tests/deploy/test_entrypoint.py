"""docker/entrypoint.sh, run for real: the admin token is provisioned once, then shared."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support import compose

ENTRYPOINT = compose.REPO_ROOT / "docker" / "entrypoint.sh"
PRINT_TOKEN = ["sh", "-c", 'printf %s "$VENDOR_ADMIN_TOKEN"']


def run(env: dict[str, str], command: list[str] = PRINT_TOKEN) -> subprocess.CompletedProcess[str]:
    # The images have `python` on PATH; here it is this interpreter.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env={"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_provisioning_generates_a_private_random_token_once(tmp_path: Path) -> None:
    token_file = tmp_path / "secrets" / "admin_token"
    env = {"VENDOR_ADMIN_TOKEN_FILE": str(token_file), "VENDOR_ADMIN_TOKEN_PROVISION": "1"}
    first = run(env)
    assert first.returncode == 0, first.stderr
    assert len(first.stdout) >= 32
    assert token_file.read_text() == first.stdout
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert first.stdout not in first.stderr, "the token must not be logged"
    assert run(env).stdout == first.stdout, "a second start must keep the token"


def test_provisioning_takes_the_operators_token(tmp_path: Path) -> None:
    token_file = tmp_path / "admin_token"
    token_file.write_text("an-older-generated-token-0123456789")
    env = {
        "VENDOR_ADMIN_TOKEN_FILE": str(token_file),
        "VENDOR_ADMIN_TOKEN_PROVISION": "1",
        "VENDOR_ADMIN_TOKEN": "operator-chosen-token-0123456789",
    }
    assert run(env).returncode == 0
    assert token_file.read_text() == "operator-chosen-token-0123456789"


def test_readers_export_the_token_from_the_file(tmp_path: Path) -> None:
    token_file = tmp_path / "admin_token"
    token_file.write_text("shared-token-0123456789abcdef")
    result = run({"VENDOR_ADMIN_TOKEN_FILE": str(token_file)})
    assert (result.returncode, result.stdout) == (0, "shared-token-0123456789abcdef")


def test_a_token_in_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    token_file = tmp_path / "admin_token"
    token_file.write_text("from-the-file-0123456789")
    env = {"VENDOR_ADMIN_TOKEN_FILE": str(token_file), "VENDOR_ADMIN_TOKEN": "from-env-0123456789"}
    assert run(env).stdout == "from-env-0123456789"
    assert token_file.read_text() == "from-the-file-0123456789", "a reader never writes"


def test_a_reader_without_the_file_refuses_to_start(tmp_path: Path) -> None:
    result = run({"VENDOR_ADMIN_TOKEN_FILE": str(tmp_path / "missing")})
    assert result.returncode == 64
    assert "must run first" in result.stderr


def test_without_a_token_file_it_only_runs_the_command() -> None:
    result = run({}, ["sh", "-c", "echo ran; exit 7"])
    assert (result.returncode, result.stdout) == (7, "ran\n")
