"""Reading Compose files without Docker: YAML with Compose's tags, a minimal merge, the schema.

No Docker engine or `docker compose` runs on our machines, so the deployment is checked here:
- `load` reads a file, keeping Compose's `!reset` / `!override` tags as markers;
- `merge` applies override files the way Compose does for what our files use: mappings merge
  by key, `command`/`entrypoint`/`healthcheck.test` are replaced, other sequences append,
  `!reset` removes and `!override` replaces (docs: compose-file "Merge");
- `validate` checks one file against the Compose Specification JSON schema that the
  check-jsonschema package ships (vendored from compose-spec), not a hand-made copy.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE = REPO_ROOT / "docker-compose.yml"
CPU = REPO_ROOT / "docker-compose.cpu.yml"
REPLICAS = REPO_ROOT / "docker-compose.replicas.yml"
COMPOSE_FILES = (BASE, CPU, REPLICAS)

# Attributes whose sequences an override replaces instead of appending to.
REPLACED_SEQUENCES = frozenset({"command", "entrypoint", "test"})


@dataclass(frozen=True)
class Reset:
    """`!reset value`: remove the attribute from what the earlier files set."""

    value: Any


@dataclass(frozen=True)
class Override:
    """`!override value`: replace the attribute instead of merging it."""

    value: Any


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader that knows Compose's two custom tags."""


def _construct(marker: type[Reset] | type[Override]) -> Any:
    def construct(loader: ComposeLoader, node: yaml.Node) -> Reset | Override:
        if isinstance(node, yaml.MappingNode):
            value: Any = loader.construct_mapping(node, deep=True)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, yaml.ScalarNode)
            value = loader.construct_scalar(node)
        return marker(value)

    return construct


ComposeLoader.add_constructor("!reset", _construct(Reset))
ComposeLoader.add_constructor("!override", _construct(Override))


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        document = yaml.load(handle, Loader=ComposeLoader)
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    return document


def strip_tags(node: Any) -> Any:
    """The document as Compose validates one file: tagged values stand for their value."""
    if isinstance(node, Reset | Override):
        return strip_tags(node.value)
    if isinstance(node, dict):
        return {key: strip_tags(value) for key, value in node.items()}
    if isinstance(node, list):
        return [strip_tags(item) for item in node]
    return node


def _merge_node(base: Any, override: Any, key: str) -> Any:
    if isinstance(override, Override):
        return strip_tags(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        return _merge_mapping(base, override)
    if isinstance(base, list) and isinstance(override, list) and key not in REPLACED_SEQUENCES:
        return base + [item for item in strip_tags(override) if item not in base]
    return strip_tags(override)


def _merge_mapping(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            merged.pop(key, None)
        elif key in merged:
            merged[key] = _merge_node(merged[key], value, key)
        else:
            merged[key] = strip_tags(value)
    return merged


def merge(*paths: Path) -> dict[str, Any]:
    """The application model of `docker compose -f a -f b ...` for our files."""
    model: dict[str, Any] = {}
    for path in paths:
        model = _merge_mapping(model, load(path))
    return model


def compose_schema() -> dict[str, Any]:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return dict(json.loads(schema_file.read_text()))


def validate(path: Path) -> list[str]:
    """Schema errors of one Compose file (empty when valid)."""
    validator = Draft202012Validator(compose_schema())
    errors = validator.iter_errors(strip_tags(load(path)))
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]


def pinned(image: str) -> bool:
    """`name:tag` with a version-like tag (a digit in it), never `latest`; or a digest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and bool(re.search(r"\d", tag))


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    """`environment` as a mapping, whichever form the file used."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) for item in environment)
        return {pair[0]: pair[1] if len(pair) == 2 else "" for pair in pairs}
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def named_volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """{target path: named volume} of a service's volumes (bind mounts left out)."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume["target"]
            if volume.get("type", "volume") != "volume":
                continue
        else:
            source, target, *_ = str(volume).split(":")
        if source and not source.startswith((".", "/", "~")):
            mounts[target] = source
    return mounts


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`depends_on` as a mapping of conditions, whichever form the file used."""
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {name: {"condition": "service_started"} for name in value}
    return dict(value)
