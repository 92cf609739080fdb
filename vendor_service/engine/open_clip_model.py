"""The real model: an open_clip architecture with pretrained, local or seeded random weights."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from vendor_service.engine.model import ModelInfo
from vendor_service.engine.model_configs import register_model_configs
from vendor_service.engine.preprocess import OPENAI_MEAN, OPENAI_STD, ClipPreprocess
from vendor_service.settings import Settings
from vendor_service.vlm.weights import resolve_pretrained

log = logging.getLogger(__name__)


def weights_tag(pretrained: str, seed: int) -> str:
    """Short tag of the weights: sha256[:8] of a checkpoint file, the pretrained tag, or seed."""
    if not pretrained:
        return f"random{seed}"
    path = Path(pretrained)
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()[:8]
    return pretrained


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
        pretrained = resolve_pretrained(settings.pretrained)
        model, _, transform = open_clip.create_model_and_transforms(
            settings.model, pretrained=pretrained or None, device=self.device
        )
        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(settings.model)
        image_size = _image_size(model)
        mean, std = _normalisation(transform)
        self.preprocessor = ClipPreprocess(image_size, mean, std)  # picklable, for ProcessModel
        with torch.inference_mode():
            dim = int(self.encode_texts(["probe"]).shape[1])
        model_id = settings.model_id or f"{settings.model}@{weights_tag(pretrained, settings.seed)}"
        self.info = ModelInfo(model_id, dim, image_size, int(self.tokenizer.context_length))
        log.info("model %s on %s (autocast %s)", model_id, self.device, self.autocast_dtype)

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


def _image_size(model: torch.nn.Module) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, tuple | list) else size)


def _normalisation(transform: object) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std of open_clip's Normalize step (OpenAI's when not found)."""
    for step in getattr(transform, "transforms", []):
        if hasattr(step, "mean") and hasattr(step, "std"):
            return tuple(float(v) for v in step.mean), tuple(float(v) for v in step.std)
    return OPENAI_MEAN, OPENAI_STD
