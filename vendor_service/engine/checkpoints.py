"""Read a local weights file and load it into an open_clip model, refusing what does not fit.

Three formats: a torch state dict (`.pt`, `.bin`, `.pth`; read with `weights_only=True`), a
`.safetensors` file, and OpenAI's TorchScript archive (`ViT-B-16.pt` as OpenAI publishes it),
whose state dict is read through `torch.jit.load` without running any of its code. OpenAI's
key names are open_clip's `CLIP` names, so one loader serves all three. Missing keys,
unexpected keys and shape mismatches are a `WeightsError` that lists them: a model is never
served with weights half loaded.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import torch

from vendor_service.settings import SettingsError

Format = Literal["state-dict", "safetensors", "torchscript"]

# Entries of OpenAI's archives that are hyper-parameters, not weights.
_OPENAI_EXTRAS = ("input_resolution", "context_length", "vocab_size")
_LISTED_KEYS = 8  # keys named per kind of mismatch; the rest are counted


class WeightsError(SettingsError):
    """Weights that cannot be read, or do not fit the architecture: the service must not start."""


def file_format(path: Path) -> Format:
    """safetensors by suffix; TorchScript when the zip holds compiled code; else a state dict."""
    if path.suffix == ".safetensors":
        return "safetensors"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(name.endswith("/constants.pkl") or "/code/" in name for name in names):
            return "torchscript"
    return "state-dict"


def read_state_dict(path: Path, fmt: Format) -> dict[str, torch.Tensor]:
    """The file's tensors on the CPU, under the model's key names."""
    if fmt == "safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    elif fmt == "torchscript":
        with warnings.catch_warnings():  # torch deprecates TorchScript; OpenAI publishes it
            warnings.simplefilter("ignore", FutureWarning)
            archive = torch.jit.load(str(path), map_location="cpu")
        state = dict(archive.state_dict())  # the weights only: none of its code runs
        for key in _OPENAI_EXTRAS:
            state.pop(key, None)
    else:
        state = _torch_load(path)
    if state and all(key.startswith("module.") for key in state):  # saved from DataParallel
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise WeightsError(f"{path.name} is not a state dict that loads safely: {exc}") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(torch.is_tensor(v) for v in loaded.values()):
        raise WeightsError(f"{path.name} holds no state dict (a dict of tensors)")
    return dict(loaded)


def adapt(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """open_clip's own conversions: OpenAI's text keys into a CustomTextCLIP, and a scalar
    `logit_scale` where the model keeps a 1-d one (or back)."""
    from open_clip.model import convert_to_custom_text_state_dict

    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        state = convert_to_custom_text_state_dict(state)
    for key in ("logit_scale", "logit_bias"):
        target = getattr(model, key, None)
        if key in state and target is not None and state[key].ndim != target.ndim:
            state[key] = state[key].reshape(target.shape)
    return state


def check_fit(
    expected: Mapping[str, torch.Size], found: Mapping[str, torch.Size], where: str
) -> None:
    """`WeightsError` naming the missing, unexpected and wrongly shaped keys, if any."""
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    shapes = [f"{key} {tuple(found[key])} (model: {tuple(expected[key])})"
              for key in expected if key in found and found[key] != expected[key]]  # fmt: skip
    named = {"missing keys": missing, "unexpected keys": unexpected, "shape mismatch": shapes}
    problems = [f"{label}: {_listed(keys)}" for label, keys in named.items() if keys]
    if problems:
        raise WeightsError(f"{where}: " + "; ".join(problems))


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LISTED_KEYS])
    return shown if len(keys) <= _LISTED_KEYS else f"{shown} and {len(keys) - _LISTED_KEYS} more"


def load_weights(model: torch.nn.Module, path: Path, fmt: Format, model_name: str) -> None:
    """Load the file into the model (strictly), or raise `WeightsError` saying what differs."""
    state = _fitting_state(model, path, fmt, model_name)
    model.load_state_dict(state, strict=True)


def check_file(model_name: str, path: Path, fmt: Format) -> None:
    """`load_weights`' checks against the architecture built on the meta device (no memory, no
    time): what `serve` runs once before it starts any worker."""
    import open_clip

    with torch.device("meta"), quiet_random_init():
        model = open_clip.create_model(
            model_name, pretrained=None, device="meta", pretrained_hf=False
        )
    _fitting_state(model, path, fmt, model_name)


def _fitting_state(
    model: torch.nn.Module, path: Path, fmt: Format, model_name: str
) -> dict[str, torch.Tensor]:
    state = adapt(model, read_state_dict(path, fmt))
    expected = {key: value.shape for key, value in model.state_dict().items()}
    where = f"the weights in {path.name} do not fit VENDOR_MODEL={model_name}"
    check_fit(expected, {key: value.shape for key, value in state.items()}, where)
    return state


class _RandomInitNotice(logging.Filter):
    """open_clip's "Model initialized randomly", wrong for a model whose file loads next."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")


@contextlib.contextmanager
def quiet_random_init(active: bool = True) -> Iterator[None]:
    notice = _RandomInitNotice()
    root = logging.getLogger()  # open_clip logs through the root logger
    if active:
        root.addFilter(notice)
    try:
        yield
    finally:
        root.removeFilter(notice)
