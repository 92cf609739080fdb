"""Small honest models for tests: the real tiny open_clip model, wrapped to fail or stall."""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
from PIL import Image

from vendor_service.engine.model import EmbeddingModel, ModelInfo
from vendor_service.engine.open_clip_model import OpenClipModel
from vendor_service.settings import Settings


class ControllableModel:
    """Delegates to a real model; `failing` makes every forward raise, `gate` can hold it."""

    def __init__(self, inner: EmbeddingModel) -> None:
        self.inner = inner
        self.info: ModelInfo = inner.info
        self.failing = False
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # a forward has started (and may wait on the gate)
        self.forward_sizes: list[int] = []
        self.preprocess_bug = False  # an unexpected (non-codec) exception in preprocessing
        self.on_forward: Callable[[int], None] = lambda size: None  # runs in the forward's thread

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        if self.preprocess_bug:
            raise KeyError("/secret/internal/path.py line 42")
        return self.inner.preprocess(image)

    def _before(self, size: int) -> None:
        self.entered.set()
        self.gate.wait(timeout=30)
        self.forward_sizes.append(size)
        self.on_forward(size)
        if self.failing:
            raise RuntimeError("forced failure (test)")

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        self._before(len(batch))
        return self.inner.encode_images(batch)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        self._before(len(texts))
        return self.inner.encode_texts(texts)


def controllable_factory(holder: list[ControllableModel]):  # type: ignore[no-untyped-def]
    """A model factory for create_app that records the model it made in `holder`."""

    def factory(settings: Settings) -> EmbeddingModel:
        model = ControllableModel(OpenClipModel(settings))
        holder.append(model)
        return model

    return factory
