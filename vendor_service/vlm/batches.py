"""Training batches for the VLM: augmented, normalised images and freshly sampled captions.

Captions are re-drawn every time an image is used, so the model sees each image under many
captions (with and without its style and colour words) instead of memorising one string.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from shared.world.captions import CaptionConfig, caption
from shared.world.corpus import Corpus

_MEAN = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) normalised as open_clip's preprocessing does."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - _MEAN) / _STD


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and small shifts (pad 4, crop back) of a batch."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    size = x.shape[-1]
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="replicate")
    dx, dy = (int(v) for v in torch.randint(0, 9, (2,), generator=generator))
    return padded[:, :, dy : dy + size, dx : dx + size]


class CaptionSampler:
    """Draws one caption per image and tokenizes it (tokens cached per distinct string)."""

    def __init__(
        self,
        corpus: Corpus,
        config: CaptionConfig,
        tokenizer: Callable[[list[str]], torch.Tensor],
        seed: int,
    ) -> None:
        self.corpus, self.config, self.tokenizer = corpus, config, tokenizer
        self.rng = np.random.default_rng([seed, 77])
        self._tokens: dict[str, torch.Tensor] = {}

    def captions(self, index: np.ndarray) -> list[str]:
        c = self.corpus
        return [
            caption(
                c.classes[c.labels[i]],
                c.style_names[c.styles[i]],
                c.colour_names[c.colours[i]],
                self.config,
                self.rng,
            )
            for i in index
        ]

    def tokens(self, index: np.ndarray) -> torch.Tensor:
        texts = self.captions(index)
        missing = sorted({t for t in texts if t not in self._tokens})
        if missing:
            for text, row in zip(missing, self.tokenizer(missing), strict=True):
                self._tokens[text] = row
        return torch.stack([self._tokens[t] for t in texts])
