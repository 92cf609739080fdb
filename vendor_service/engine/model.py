"""The interface in front of the embedding model: everything else only sees this.

Contract: `encode_images` / `encode_texts` return L2-normalised float32 CPU tensors of shape
(N, embedding_dim); `preprocess` is cheap CPU work (safe to run in any thread) producing one
(3, image_size, image_size) uint8 tensor, resized and cropped; `encode_images` takes a stack
of those (and normalises it on its device) or an already normalised float batch. The encode
calls run in the batcher's single inference thread (or behind it, in a model process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from PIL import Image

from shared.schemas import PretrainedSource
from vendor_service.settings import Settings


@dataclass(frozen=True)
class ModelInfo:
    model_id: str  # public id clients send as `model` (and hash into their cache keys)
    embedding_dim: int
    image_size: int  # square side after preprocessing
    context_length: int  # text tokens per input; longer texts are truncated by the tokenizer
    weights: PretrainedSource | None = None  # which weights run (/v1/models); None for test models


@runtime_checkable
class EmbeddingModel(Protocol):
    info: ModelInfo

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """RGB image -> (3, S, S) uint8, resized and centre-cropped."""
        ...

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) uint8 (or normalised float) -> (N, D) L2-normalised float32 on CPU."""
        ...

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """N strings -> (N, D) L2-normalised float32 on CPU."""
        ...


# Builds the model from settings: in the server, or in a model process (ProcessModel).
ModelFactory = Callable[[Settings], EmbeddingModel]
