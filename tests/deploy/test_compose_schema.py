"""Every Compose file is valid against the Compose Specification JSON schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import compose


@pytest.mark.parametrize("path", compose.COMPOSE_FILES, ids=lambda path: path.name)
def test_compose_file_matches_the_compose_spec(path: Path) -> None:
    assert compose.validate(path) == []


def test_the_schema_rejects_what_compose_rejects(tmp_path: Path) -> None:
    """The validator is not vacuous: a misspelt attribute and a bad condition are errors."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "vendor": {
                        "image": "x:1",
                        "helthcheck": {"test": ["CMD", "true"]},
                        "depends_on": {"redis": {"condition": "service_ready"}},
                    }
                }
            }
        )
    )
    errors = compose.validate(bad)
    assert any("helthcheck" in error for error in errors)
    assert any("service_ready" in error for error in errors)


def test_reset_and_override_tags_load_and_merge() -> None:
    base = {"services": {"a": {"ports": ["1:1"], "command": ["x"], "environment": {"A": "1"}}}}
    override = yaml.load(
        "services:\n  a:\n    ports: !reset []\n    command: !override [y]\n"
        "    environment: {B: '2'}\n",
        Loader=compose.ComposeLoader,
    )
    merged = compose._merge_mapping(base, override)
    assert merged == {"services": {"a": {"command": ["y"], "environment": {"A": "1", "B": "2"}}}}
