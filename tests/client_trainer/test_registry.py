"""Every registry refuses an unknown name with one error, when the config loads, naming what
it knows; every registered entry resolves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from client_trainer.config import RunConfig, load_config
from client_trainer.methods import METHODS
from client_trainer.registry import Registry, UnknownName
from client_trainer.selection import STRATEGIES
from client_trainer.students import STUDENTS

# (dotted config field, the registry behind it)
REGISTRIES: list[tuple[str, Mapping[str, object]]] = [
    ("train.method", METHODS),
    ("teacher.selection", STRATEGIES),
    ("student.name", STUDENTS),
]
ENTRIES = [(field, name) for field, registry in REGISTRIES for name in registry]


@pytest.mark.parametrize(("field", "registry"), REGISTRIES)
def test_an_unknown_name_is_refused_when_the_config_loads(
    field: str, registry: Mapping[str, object], tmp_path: Path
) -> None:
    assert len(registry) >= 3
    with pytest.raises(UnknownName) as caught:
        RunConfig().with_overrides({field: "no-such-name"})
    assert "no-such-name" in str(caught.value)
    assert all(name in str(caught.value) for name in registry)  # the known names are listed
    section, _, key = field.partition(".")
    path = tmp_path / "run.toml"
    path.write_text(f'[{section}]\n{key} = "no-such-name"\n')
    with pytest.raises(UnknownName):
        load_config(path)


@pytest.mark.parametrize(("field", "name"), ENTRIES)
def test_every_registered_name_is_accepted(field: str, name: str) -> None:
    section, _, key = field.partition(".")
    config = RunConfig().with_overrides({field: name})
    assert getattr(getattr(config, section), key) == name


def test_a_name_is_registered_once() -> None:
    registry: Registry[int] = Registry("thing")
    registry.register("a")(1)
    assert registry["a"] == 1 and "a" in registry and registry.get("b") is None
    with pytest.raises(ValueError, match="twice"):
        registry.register("a")(2)
    with pytest.raises(UnknownName, match=r"unknown thing 'b'; known: a$"):
        registry["b"]
