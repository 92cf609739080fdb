"""Zero-shot accuracy of a CLIP on world images, per style, with the paper's prompt."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from shared.world.captions import prompt
from shared.world.corpus import Corpus
from vendor_service.vlm.batches import to_tensor


@torch.no_grad()
def class_text_embeddings(
    model: torch.nn.Module, tokenizer: Callable[[list[str]], torch.Tensor], classes: tuple[str, ...]
) -> torch.Tensor:
    """(C, D) L2-normalised text embeddings of "a photo of a {class}"."""
    text = model.encode_text(tokenizer([prompt(c) for c in classes]))  # type: ignore[operator]
    return torch.nn.functional.normalize(text, dim=-1)


@torch.no_grad()
def zero_shot_by_style(
    model: torch.nn.Module,
    tokenizer: Callable[[list[str]], torch.Tensor],
    corpus: Corpus,
    index: np.ndarray,
    batch: int = 500,
) -> dict[str, float]:
    """Zero-shot top-1 accuracy (%) on corpus[index], per style name and overall ("all")."""
    model.eval()
    text = class_text_embeddings(model, tokenizer, corpus.classes)
    preds = []
    for s in range(0, len(index), batch):
        image = model.encode_image(to_tensor(corpus.images[index[s : s + batch]]))  # type: ignore[operator]
        preds.append((torch.nn.functional.normalize(image, dim=-1) @ text.T).argmax(1).numpy())
    correct = np.concatenate(preds) == corpus.labels[index]
    styles = corpus.styles[index]
    out = {
        name: float(100 * correct[styles == k].mean())
        for k, name in enumerate(corpus.style_names)
        if (styles == k).any()
    }
    out["all"] = float(100 * correct.mean())
    return out
