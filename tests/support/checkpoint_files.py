"""Every weights format `VENDOR_PRETRAINED` reads, written from a small random-weight model.

`openai_archive` writes what OpenAI publishes: a TorchScript archive (fp16 weights, OpenAI's
key names, plus its three hyper-parameter entries) that `torch.load(weights_only=True)`
refuses and `torch.jit.load(...).state_dict()` reads.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import open_clip
import torch

from vendor_service.engine.model_configs import register_model_configs

TINY_VIT = "tiny-vit-test"  # a GELU ViT; its -quickgelu twin takes OpenAI's weights
TINY_VIT_QUICKGELU = "tiny-vit-test-quickgelu"


def random_model(name: str, seed: int = 7) -> Any:
    """An open_clip model with seeded random weights (not the service's seed 0)."""
    register_model_configs()
    torch.manual_seed(seed)
    return open_clip.create_model(name, pretrained=None).eval()


def state_dict_file(model: Any, path: Path) -> Path:
    torch.save(model.state_dict(), path)
    return path


def safetensors_file(model: Any, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(path))
    return path


def model_directory(model: Any, name: str, path: Path, **preprocess: Any) -> Path:
    """Hugging Face-style: open_clip_config.json + open_clip_model.safetensors."""
    path.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": open_clip.get_model_config(name), "preprocess_cfg": preprocess}
    (path / "open_clip_config.json").write_text(json.dumps(config), encoding="utf-8")
    safetensors_file(model, path / "open_clip_model.safetensors")
    return path


class _Node(torch.nn.Module):
    """One level of dotted key names (`visual.transformer.resblocks.0...`)."""


class _OpenAIArchive(torch.nn.Module):
    """Holds a state dict under its own key names, as OpenAI's scripted CLIP does."""

    def __init__(self, state: dict[str, torch.Tensor], extras: dict[str, int]) -> None:
        super().__init__()
        for key, value in state.items():
            *parents, leaf = key.split(".")
            node: torch.nn.Module = self
            for part in parents:
                if not hasattr(node, part):
                    node.add_module(part, _Node())
                node = getattr(node, part)
            node.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=False))
        for key, number in extras.items():
            self.register_buffer(key, torch.tensor(number))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def openai_archive(model: Any, path: Path) -> Path:
    """OpenAI's layout: fp16 weights (as published) and input_resolution, context_length and
    vocab_size entries, saved with torch.jit."""
    state = {key: value.half() for key, value in model.state_dict().items()}
    extras = {
        "input_resolution": int(model.visual.image_size[0]),
        "context_length": int(model.context_length),
        "vocab_size": int(model.vocab_size),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_OpenAIArchive(state, extras)).save(str(path))
    return path
