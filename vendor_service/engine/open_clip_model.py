"""The real model: an open_clip architecture with pretrained, local or seeded random weights."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from vendor_service.engine.checkpoints import load_weights, quiet_random_init
from vendor_service.engine.model import ModelInfo
from vendor_service.engine.model_configs import register_model_configs
from vendor_service.engine.preprocess import OPENAI_MEAN, OPENAI_STD, ClipPreprocess
from vendor_service.engine.teacher_weights import (
    WeightsSource,
    check_architecture,
    describe,
    resolve_weights,
    weights_id,
)
from vendor_service.settings import Settings

log = logging.getLogger(__name__)


def pick_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for plain fp32."""
    if setting == "fp32" or (setting == "auto" and device.type == "cpu"):
        return None
    if setting == "fp16":
        return torch.float16
    if setting == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


class OpenClipModel:
    def __init__(self, settings: Settings) -> None:
        register_model_configs()
        import open_clip

        torch.manual_seed(settings.seed)
        self.device = pick_device(settings.device)
        self.autocast_dtype = pick_dtype(settings.precision, self.device)
        source = resolve_weights(settings.pretrained)
        check_architecture(settings.model, source)
        model, transform = _build(settings.model, source, self.device)
        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(settings.model)
        image_size = _image_size(model)
        mean, std = _normalisation(transform, source.config)
        self.preprocessor = ClipPreprocess(image_size, mean, std)  # picklable, for ProcessModel
        with torch.inference_mode():
            dim = int(self.encode_texts(["probe"]).shape[1])
        weights = describe(source, settings.seed)  # a file's sha256: read once, here
        model_id = settings.model_id or f"{settings.model}@{weights_id(weights)}"
        context = int(self.tokenizer.context_length)
        self.info = ModelInfo(model_id, dim, image_size, context, weights)
        log.info("model %s on %s (autocast %s), weights %s",
                 model_id, self.device, self.autocast_dtype, weights.model_dump_json())  # fmt: skip

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.preprocessor(image)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        with torch.inference_mode():
            if self.autocast_dtype is None:
                yield
            else:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                    yield

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:  # as `preprocess` makes them: normalised here, per batch
            x = self.preprocessor.normalize(x)
        with self._precision():
            features = self.model.encode_image(x)
        return F.normalize(features.float(), dim=-1).cpu()

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts).to(self.device)
        with self._precision():
            features = self.model.encode_text(tokens)
        return F.normalize(features.float(), dim=-1).cpu()


def _build(name: str, source: WeightsSource, device: torch.device) -> tuple[Any, Any]:
    """The architecture with its weights, and open_clip's eval transform: open_clip loads a
    tag; a local file goes through `load_weights`, which refuses what does not fit."""
    import open_clip

    tag = source.tag if source.kind == "tag" else None
    with quiet_random_init(source.path is not None):
        # pretrained_hf=False: a Hugging Face text tower is not downloaded for weights that
        # come from a file, or for random ones
        model, _, transform = open_clip.create_model_and_transforms(
            name, pretrained=tag, pretrained_hf=tag is not None
        )
    if source.path is not None and source.format is not None:
        load_weights(model, source.path, source.format, name)
    return model.to(device), transform


def _image_size(model: torch.nn.Module) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, tuple | list) else size)


def _normalisation(
    transform: object, config: dict[str, Any] | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std of a model directory's preprocess_cfg, else of open_clip's Normalize step
    (OpenAI's when not found)."""
    preprocess = (config or {}).get("preprocess_cfg", {})
    if "mean" in preprocess and "std" in preprocess:
        return tuple(map(float, preprocess["mean"])), tuple(map(float, preprocess["std"]))
    for step in getattr(transform, "transforms", []):
        if hasattr(step, "mean") and hasattr(step, "std"):
            return tuple(float(v) for v in step.mean), tuple(float(v) for v in step.std)
    return OPENAI_MEAN, OPENAI_STD
