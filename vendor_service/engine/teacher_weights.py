"""Which weights `VENDOR_PRETRAINED` names, and whether they fit `VENDOR_MODEL`, before loading.

    random ...... seeded random weights (VENDOR_SEED)
    tag ......... an open_clip pretrained tag of the architecture (downloaded, or from its cache)
    file ........ a local checkpoint: a state dict, safetensors, or OpenAI's TorchScript archive
    directory ... a local Hugging Face-style model: open_clip_config.json + its weights file
`world` (the offline world's teacher) is the file that `train-vlm` wrote.

OpenAI's weights were trained with QuickGELU, an activation with no parameters: loaded into a
GELU architecture they load without a complaint and give other embeddings. So weights known to
be OpenAI's (the `openai` tag, a TorchScript archive) or a directory whose config says so must
meet an architecture with the same activation, or the service refuses to start.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.schemas import PretrainedSource
from vendor_service.engine.checkpoints import Format, WeightsError, check_file, file_format
from vendor_service.settings import RANDOM_WEIGHTS

QUICKGELU = "-quickgelu"
CONFIG_FILE = "open_clip_config.json"
# Weights files of a model directory, the first one present wins (open_clip's own order).
DIRECTORY_WEIGHTS = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
)
_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


@dataclass(frozen=True)
class WeightsSource:
    kind: Literal["random", "tag", "file", "directory"]
    tag: str = ""  # the open_clip pretrained tag (kind "tag")
    path: Path | None = None  # the weights file (kinds "file" and "directory")
    format: Format | None = None  # the file's format
    config: dict[str, Any] | None = None  # a directory's open_clip_config.json


def resolve_weights(pretrained: str) -> WeightsSource:
    """What the setting names; a path that does not exist is an error, not a tag."""
    from vendor_service.vlm.weights import resolve_pretrained

    if pretrained == RANDOM_WEIGHTS:
        return WeightsSource("random")
    value = resolve_pretrained(pretrained)  # `world` -> its checkpoint file
    path = Path(value).expanduser()
    if path.is_dir():
        return _directory(path)
    if path.is_file():
        return WeightsSource("file", path=path, format=file_format(path))
    if "/" in value or "\\" in value or path.suffix in _FILE_SUFFIXES:
        raise WeightsError(f"VENDOR_PRETRAINED={pretrained}: no such file or directory")
    return WeightsSource("tag", tag=value)


def _directory(path: Path) -> WeightsSource:
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise WeightsError(f"the model directory {path.name} has no {CONFIG_FILE}")
    weights = next((path / name for name in DIRECTORY_WEIGHTS if (path / name).is_file()), None)
    if weights is None:
        raise WeightsError(
            f"the model directory {path.name} has none of {', '.join(DIRECTORY_WEIGHTS)}"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path.name}/{CONFIG_FILE} is not JSON: {exc}") from exc
    return WeightsSource("directory", path=weights, format=file_format(weights), config=config)


def check_teacher_weights(model: str, pretrained: str) -> WeightsSource:
    """Every start-up check of the weights, without loading them into a model: `serve` runs it
    once before any worker starts, so a mistake is one line, not a worker's traceback."""
    from vendor_service.engine.model_configs import register_model_configs

    register_model_configs()
    source = resolve_weights(pretrained)
    check_architecture(model, source)
    if source.path is not None and source.format is not None and _known(model):
        check_file(model, source.path, source.format)
    return source


def _known(model: str) -> bool:
    import open_clip

    return open_clip.get_model_config(model) is not None


def check_architecture(model: str, source: WeightsSource) -> None:
    """Refuse weights that load into `model` but do not belong to it: an unknown tag, another
    activation (QuickGELU), or a directory whose config describes another architecture."""
    import open_clip

    model_cfg = open_clip.get_model_config(model)
    if model_cfg is None or source.kind == "random":
        return  # an unknown architecture: building it says so
    if source.kind == "tag":
        _check_tag(model, source.tag)
    if source.kind == "directory" and source.config is not None:
        _check_directory_config(model, model_cfg, source.config)
    wants_quickgelu = weights_quickgelu(model, source)
    if wants_quickgelu is not None and wants_quickgelu != bool(model_cfg.get("quick_gelu")):
        raise WeightsError(_quickgelu_message(model, wants_quickgelu))


def _check_tag(model: str, tag: str) -> None:
    import open_clip

    if not open_clip.get_pretrained_cfg(model, tag):
        tags = open_clip.list_pretrained_tags_by_model(model)
        known = f"its tags: {', '.join(tags)}" if tags else "it has no open_clip tags"
        raise WeightsError(
            f"VENDOR_PRETRAINED={tag} is neither a file, a directory nor an open_clip "
            f"pretrained tag of VENDOR_MODEL={model} ({known})"
        )


def weights_quickgelu(model: str, source: WeightsSource) -> bool | None:
    """Whether the weights were trained with QuickGELU; None where the file cannot say."""
    import open_clip

    if source.kind == "tag":
        cfg = open_clip.get_pretrained_cfg(model, source.tag)
        return bool(cfg.get("quick_gelu")) or source.tag == "openai"
    if source.format == "torchscript":  # only OpenAI publishes CLIP as TorchScript
        return True
    if source.kind == "directory" and source.config is not None:
        return bool(source.config.get("model_cfg", source.config).get("quick_gelu"))
    return None


def _quickgelu_message(model: str, wants_quickgelu: bool) -> str:
    base = model.removesuffix(QUICKGELU)
    if wants_quickgelu:
        return (
            f"these weights use QuickGELU (OpenAI's do) but VENDOR_MODEL={model} uses GELU: "
            f"set VENDOR_MODEL={base}{QUICKGELU}"
        )
    return (
        f"these weights use GELU but VENDOR_MODEL={model} is a {QUICKGELU} architecture: "
        f"set VENDOR_MODEL={base}"
    )


def _check_directory_config(model: str, model_cfg: dict[str, Any], config: dict[str, Any]) -> None:
    """Every value the directory's model_cfg sets must be the architecture's own."""
    differences = _differences(config.get("model_cfg", config), model_cfg)
    if differences:
        raise WeightsError(
            f"the model directory's {CONFIG_FILE} describes another architecture than "
            f"VENDOR_MODEL={model}: " + "; ".join(differences)
        )


def _differences(theirs: dict[str, Any], ours: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in theirs.items():
        if key == "quick_gelu":
            continue  # checked on its own, with a message naming the right architecture
        mine = ours.get(key)
        if isinstance(value, dict) and isinstance(mine, dict):
            found += _differences(value, mine, f"{prefix}{key}.")
        elif _normal(value) != _normal(mine):
            found.append(f"{prefix}{key} is {value!r} there, {mine!r} in the architecture")
    return found


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks (a multi-GB checkpoint never sits in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe(source: WeightsSource, seed: int) -> PretrainedSource:
    """What `/v1/models` says about the weights (a file's name, never its path)."""
    if source.kind == "random":
        return PretrainedSource(source="random", name=f"random{seed}")
    if source.kind == "tag" or source.path is None:
        return PretrainedSource(source="tag", name=source.tag)
    return PretrainedSource(
        source=source.kind, name=source.path.name, sha256=sha256_of(source.path),
        format=source.format,
    )  # fmt: skip


def weights_id(weights: PretrainedSource) -> str:
    """The short tag in the default model id: the tag, sha256[:8] of a file, or random<seed>."""
    return weights.sha256[:8] if weights.sha256 else weights.name
