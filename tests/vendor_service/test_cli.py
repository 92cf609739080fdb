"""`python -m vendor_service keys ...` through typer's CliRunner, on a real Redis."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vendor_service.cli import app


@pytest.fixture
def env(redis_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "VENDOR_REDIS_PREFIX": redis_prefix,
        "VENDOR_ADMIN_TOKEN": "test-admin-token-0123456789abcdef",
    }


def test_key_commands(env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--name", "cli", "--budget", "20"], env=env)
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["api_key"].startswith("vk-")
    key_id = key["key_id"]
    topped = runner.invoke(app, ["keys", "topup", key_id, "--amount", "5"], env=env)
    assert json.loads(topped.stdout)["budget"] == 25
    shown = json.loads(runner.invoke(app, ["keys", "show", key_id], env=env).stdout)
    assert (shown["budget"], shown["spent"], shown["remaining"]) == (25, 0, 25)
    revoked = runner.invoke(app, ["keys", "revoke", key_id], env=env)
    assert json.loads(revoked.stdout)["revoked"] is True


def test_unknown_key_is_a_clean_error(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["keys", "show", "ffffffffffff"], env=env)
    assert result.exit_code == 1
    assert "no API key" in result.output


def test_refuses_placeholder_admin_token(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["keys", "show", "x"], env={**env, "VENDOR_ADMIN_TOKEN": ""})
    assert result.exit_code == 2
    assert "VENDOR_ADMIN_TOKEN" in result.output
