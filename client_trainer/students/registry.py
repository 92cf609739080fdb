"""Build a feature extractor (`num_classes=0`) from any timm model name.

Models others register with timm's `@register_model` work as soon as their module is
imported; the world's own students register on import of this package. Pretrained weights
come only from what is already on disk: timm's own download paths are never taken (no network
here), and a missing file fails at once with a message. Weight files load strictly
(`client_trainer.students.weights`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import timm
import torch
from timm.models import register_model
from torch import nn

from client_trainer.config import StudentConfig
from client_trainer.registry import Registry, UnknownName
from client_trainer.students.weights import WeightFileError, load_student_weights


class StudentError(Exception):
    """The student cannot be built as asked (its module does not import, weights unavailable,
    bad file). Not a ValueError: raised while the config loads, it reaches the caller as
    itself rather than folded into a pydantic ValidationError."""


@dataclass(frozen=True)
class StudentSpec:
    """A tested student: timm name plus the kwargs it needs at small image sizes."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""


# Tiny entries the tests run end to end; any other timm name works the same way.
TESTED_STUDENTS: dict[str, StudentSpec] = {
    "test_resnet": StudentSpec("test_resnet", note="tiny ResNet with BatchNorm (0.4 M)"),
    "test_vit": StudentSpec("test_vit", note="tiny ViT with LayerNorm (0.3 M)"),
    "test_efficientnet": StudentSpec("test_efficientnet", note="tiny EfficientNet (0.1 M)"),
}

# The project's own students (the offline world's), registered with timm by `@register_student`.
STUDENTS: Registry[Callable[..., nn.Module]] = Registry("timm model")
F = TypeVar("F", bound=Callable[..., nn.Module])


def register_student(fn: F) -> F:
    """Function decorator: a timm model (timm's `@register_model`) that is also one of the
    project's students, which the tests build one by one."""
    register_model(fn)
    STUDENTS.register(fn.__name__)(fn)
    return fn


def _import_registering(module: str) -> None:
    """Import a module the config names so that the students it registers with timm exist."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise StudentError(f"cannot import {module!r} to register students: {exc}") from exc


def check_student(name: str, module: str | None = None) -> str:
    """`name` when timm knows it, after importing `module` (which may register it); else
    UnknownName listing the project's students."""
    if module:
        _import_registering(module)
    if not timm.is_model(name):
        hint = " (or any of timm.list_models(); --student-module names a module that adds more)"
        raise UnknownName("timm model", name, [*STUDENTS, *TESTED_STUDENTS], hint)
    return name


_VIT_PREFIXES = ("vit", "deit", "test_vit", "eva", "beit")


def _build_kwargs(name: str, image_size: int) -> dict[str, Any]:
    kwargs = dict(TESTED_STUDENTS[name].kwargs) if name in TESTED_STUDENTS else {}
    if name.startswith(_VIT_PREFIXES):
        kwargs.setdefault("img_size", image_size)  # position embeddings sized for our input
    return kwargs


def _cached_hub_file(hub_id: str) -> Path | None:
    """A timm weight file already in the local Hugging Face cache (no network call)."""
    from huggingface_hub import try_to_load_from_cache

    repo, _, revision = hub_id.partition("@")
    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename, revision=revision or None)
        if isinstance(found, str):
            return Path(found)
    return None


def _local_timm_weights(name: str) -> Path | None:
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        raise StudentError(f"timm has no pretrained weights for {name!r}")
    if cfg.file:
        return Path(cfg.file) if Path(cfg.file).is_file() else None
    if cfg.hf_hub_id:
        return _cached_hub_file(cfg.hf_hub_id)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(str(cfg.url or "none")).name
    return cached if cfg.url and cached.is_file() else None


def _from_file(name: str, path: Path, kwargs: dict[str, Any]) -> nn.Module:
    try:
        return load_student_weights(name, path, kwargs)
    except WeightFileError as exc:
        raise StudentError(str(exc)) from exc


def _timm_pretrained(name: str, kwargs: dict[str, Any]) -> nn.Module:
    """timm weights only when already on disk; timm's own download path is never taken."""
    path = _local_timm_weights(name)
    if path is None:
        raise StudentError(
            f"pretrained weights of {name!r} are not on this machine; use --student-init file"
            " --student-weights PATH, or --student-init random"
        )
    return _from_file(name, path, kwargs)


def create_student(config: StudentConfig, image_size: int) -> nn.Module:
    """A timm backbone returning pooled features; `.num_features` is their dimension."""
    check_student(config.name, config.module)  # a config that skipped validation, too
    kwargs = _build_kwargs(config.name, image_size)
    if config.init == "timm":
        return _timm_pretrained(config.name, kwargs)
    if config.init == "file":
        if config.weights is None:
            raise StudentError("student init 'file' needs --student-weights PATH")
        return _from_file(config.name, config.weights, kwargs)
    return timm.create_model(config.name, pretrained=False, num_classes=0, **kwargs)
