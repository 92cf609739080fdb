"""`python -m vendor_service keys ...` through typer's CliRunner, on a real Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
import torch
from typer.testing import CliRunner

from vendor_service.cli import app
from vendor_service.metering import hash_secret, mint_api_key
from vendor_service.settings import Settings


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


def test_serve_refuses_weights_that_do_not_fit_in_one_line(tmp_path: Path) -> None:
    """Before any worker starts: QuickGELU weights on a GELU model, a file with wrong keys."""
    from tests.support.checkpoint_files import (
        TINY_VIT,
        TINY_VIT_QUICKGELU,
        openai_archive,
        random_model,
    )

    archive = openai_archive(random_model(TINY_VIT_QUICKGELU), tmp_path / "ViT-B-16.pt")
    torch.save({"text_projection": torch.zeros(3, 3)}, tmp_path / "bad.pt")
    token = {"VENDOR_ADMIN_TOKEN": "test-admin-token-0123456789abcdef"}
    for model, pretrained, says in (
        (TINY_VIT, str(archive), f"set VENDOR_MODEL={TINY_VIT_QUICKGELU}"),
        ("ViT-B-16", "openai", "set VENDOR_MODEL=ViT-B-16-quickgelu"),
        (TINY_VIT, str(tmp_path / "bad.pt"), "missing keys: positional_embedding"),
        (TINY_VIT, "", "VENDOR_PRETRAINED is required with VENDOR_MODEL=tiny-vit-test"),
    ):
        env = {**token, "VENDOR_MODEL": model, "VENDOR_PRETRAINED": pretrained}
        result = CliRunner().invoke(app, ["serve"], env=env)
        assert result.exit_code == 2, result.output
        assert says in result.output and len(result.output.strip().splitlines()) == 1


def _squeezed(text: str) -> str:
    """`text` without whitespace: help wraps long lines wherever the terminal ends."""
    return "".join(text.split())


def test_serve_help_lists_every_setting_with_its_variable_help_and_default() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    help_text = _squeezed(result.output)
    for name, field in Settings.model_fields.items():
        variable = "REDIS_URL" if name == "redis_url" else f"VENDOR_{name.upper()}"
        assert field.description, f"{name} has no description: it would have no help"
        first_sentence = field.description.split(". ")[0].removesuffix(".")
        assert variable in result.output, f"{variable} is missing from serve --help"
        row = _squeezed(f"{variable} {first_sentence}")
        assert row in help_text, name
        shown = help_text[help_text.index(row) :].split("[default:", 1)[1]
        assert shown.startswith(_squeezed(_as_in_environment(field.default)) + "]"), name
    assert "VENDOR_REDIS_URL" not in result.output  # REDIS_URL is read without the prefix
    assert _squeezed("VENDOR_MAX_BATCH_SIZE Most inputs in one forward pass. [default: 64]") in (
        help_text
    )
    assert _squeezed("REDIS_URL The Redis server") in help_text
    assert _squeezed("[default: unset]") in help_text


def _as_in_environment(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "true" if default else "false"
    return '""' if default == "" else str(default)


def test_migrate_moves_an_untagged_ledger_to_tagged_names(
    env: dict[str, str], redis_url: str, redis_prefix: str
) -> None:
    """An account, a delivered Idempotency-Key record and a hold in flight under the untagged
    names; afterwards the ledger reads the account, replays the record and holds nothing."""
    client = redis.Redis.from_url(redis_url)
    key = mint_api_key()
    client.hset(f"{redis_prefix}key:{key.key_id}", mapping={
        "budget": 100, "spent": 30, "reserved": 10, "images": 3, "texts": 0, "requests": 3,
        "name": "old", "revoked": 0, "secret_hash": hash_secret(key.secret, ""),
    })  # fmt: skip
    digest = "d" * 32
    client.hset(f"{redis_prefix}idem:{key.key_id}:{digest}",
                mapping={"fingerprint": "fp", "state": "done", "response": "stored"})  # fmt: skip
    client.expire(f"{redis_prefix}idem:{key.key_id}:{digest}", 3600)
    client.hset(f"{redis_prefix}res:r1", mapping={"key_id": key.key_id, "cost": 10})
    client.zadd(f"{redis_prefix}leases", {"r1": 1})
    client.close()

    runner = CliRunner()
    moved = runner.invoke(app, ["keys", "migrate"], env=env)
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout) == {
        "accounts": 1, "idempotency_records": 1, "holds_refunded": 1
    }  # fmt: skip
    shown = json.loads(runner.invoke(app, ["keys", "show", key.key_id], env=env).stdout)
    assert (shown["budget"], shown["spent"], shown["reserved"]) == (100, 30, 0)
    client = redis.Redis.from_url(redis_url)
    tagged = f"{redis_prefix}{{{key.key_id}}}:idem:{digest}"
    assert client.hget(tagged, "response") == b"stored" and client.ttl(tagged) > 0
    assert client.sismember(f"{redis_prefix}keys", key.key_id)
    assert not list(client.scan_iter(match=f"{redis_prefix}key:*"))
    client.close()
    again = runner.invoke(app, ["keys", "migrate"], env=env)
    assert json.loads(again.stdout) == {"accounts": 0, "idempotency_records": 0,
                                        "holds_refunded": 0}  # fmt: skip
