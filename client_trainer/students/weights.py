"""Student weights from a local file, loaded strictly: a key the model lacks or a key the file
lacks is an error that names it, never a silently random layer.

Models that timm builds with a pretrained config load through timm's own path
(`pretrained=True, pretrained_cfg_overlay=dict(file=...)`), which resamples a ViT's `pos_embed`
to the model's image size and adapts the input channels. timm loads non-strictly whenever the
model's class count differs from the config's (it drops the classifier and ignores whatever
else is missing), so the model is built with the file's own classifier size, which keeps
timm's load strict, and the classifier is removed after (`reset_classifier(0)`). Models
registered without a pretrained config (the world's students) load with torch's strict
`load_state_dict`, the classifier's keys excepted.

Formats: a `.safetensors` file, or a torch file (`.pth`, `.pt`, `.bin`) holding a state dict,
plain or under `state_dict` / `model` (an EMA copy is preferred when present); a `module.`
prefix (DataParallel) is stripped. Both are read by timm's `load_state_dict`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch
from timm.models import get_pretrained_cfg
from timm.models import load_state_dict as timm_load_state_dict
from torch import nn

SHOWN_KEYS = 8  # keys listed per kind in an error; the rest are counted


class WeightFileError(Exception):
    """A weight file that cannot be read, or does not fit the model; the student registry
    raises it as a StudentError."""


def read_state_dict(path: Path) -> dict[str, Any]:
    """The file's state dict, through timm's reader (safetensors or torch, nested or plain)."""
    if not path.is_file():
        raise WeightFileError(f"weight file {path} does not exist")
    try:
        state = timm_load_state_dict(str(path), use_ema=True, weights_only=True)
    except Exception as exc:  # corrupt, not a weights file, or pickled code
        raise WeightFileError(f"cannot read weight file {path}: {exc}") from exc
    if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
        raise WeightFileError(f"weight file {path} holds no state dict of tensors")
    return dict(state)


def _keys(line: str) -> list[str]:
    return re.findall(r'"([^"]+)"', line)


def _listed(kind: str, keys: list[str]) -> str:
    more = f" (+{len(keys) - SHOWN_KEYS} more)" if len(keys) > SHOWN_KEYS else ""
    return f"{len(keys)} {kind} key(s): {', '.join(keys[:SHOWN_KEYS])}{more}"


def mismatch_message(error: RuntimeError) -> str:
    """torch's strict-load error on one line: the missing and unexpected keys listed, shape
    mismatches kept as torch words them."""
    parts, others = [], []
    for line in str(error).split("\n\t")[1:]:
        if line.startswith("Missing key(s)"):
            parts.append(_listed("missing", _keys(line)))
        elif line.startswith("Unexpected key(s)"):
            parts.append(_listed("unexpected", _keys(line)))
        else:
            others.append(" ".join(line.split()))
    if len(others) > SHOWN_KEYS:
        others = [*others[:SHOWN_KEYS], f"(+{len(others) - SHOWN_KEYS} more)"]
    return "; ".join(parts + others) or " ".join(str(error).split())


def _classifier_names(name: str) -> tuple[str, ...]:
    cfg = get_pretrained_cfg(name)
    classifier = cfg.classifier if cfg is not None else None
    if classifier is None:
        return ()
    return (classifier,) if isinstance(classifier, str) else tuple(classifier)


def _file_classes(state: Mapping[str, torch.Tensor], classifiers: tuple[str, ...]) -> int:
    """The class count of the file's classifier; 0 for a backbone saved without one."""
    for classifier in classifiers:
        weight = state.get(f"{classifier}.weight")
        if weight is not None and weight.ndim >= 1:
            return int(weight.shape[0])
    return 0


def _through_timm(name: str, path: Path, classes: int, kwargs: dict[str, Any]) -> nn.Module:
    """timm's own pretrained path on a local file, strict (see the module's docstring)."""
    overlay = {
        "file": str(path), "num_classes": classes, "label_offset": 0,
        "source": None, "hf_hub_id": None, "url": None,  # the file, never a download
    }  # fmt: skip
    model: Any = timm.create_model(  # Any: timm's models have reset_classifier
        name, pretrained=True, pretrained_cfg_overlay=overlay, num_classes=classes, **kwargs
    )
    if classes:
        model.reset_classifier(0)
    return model


def _head_keys(name: str, kwargs: dict[str, Any]) -> set[str]:
    """Keys a classifier adds to the model (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        with_head = timm.create_model(name, num_classes=1, **kwargs).state_dict()
        without = timm.create_model(name, num_classes=0, **kwargs).state_dict()
    return set(with_head) - set(without)


def _strict_torch(name: str, state: dict[str, Any], kwargs: dict[str, Any]) -> nn.Module:
    """A model without a timm pretrained config: torch's strict load, the classifier excepted."""
    model = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    head = _head_keys(name, kwargs)
    model.load_state_dict({k: v for k, v in state.items() if k not in head}, strict=True)
    return model


def load_student_weights(name: str, path: Path, kwargs: dict[str, Any]) -> nn.Module:
    """The feature extractor `name` (num_classes=0) with every weight from `path`; a
    WeightFileError listing the keys when the file and the model do not match."""
    state = read_state_dict(path)
    classifiers = _classifier_names(name)
    try:
        if classifiers:
            return _through_timm(name, path, _file_classes(state, classifiers), kwargs)
        return _strict_torch(name, state, kwargs)
    except RuntimeError as exc:
        raise WeightFileError(
            f"weight file {path} does not fit {name}: {mismatch_message(exc)}"
        ) from exc
