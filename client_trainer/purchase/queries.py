"""What to ask the teacher for, and the content key each query is cached under.

- clean image: the file's exact bytes (descriptor ""), or, when the vendor would refuse them as
  they are, the file fitted to its limits (`fit.fit_descriptor`: recipe version and limits);
- view k of an image: the PNG of the augmented view, descriptor `view:v1:<size>:<k>:<seed>`;
- per-step view: the PNG of the batch's augmented image, descriptor `per-step:v1:<size>`;
  a PNG over the vendor's limits is fitted too, and the fit's descriptor is appended;
- augmentation probe view: the PNG of an image under one family, descriptor
  `probe:v1:<family>:<size>:<seed>`;
- text: the prompt string itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from client_trainer.config import ENSEMBLE_TEMPLATES, PROMPT_TEMPLATE
from client_trainer.data.augment import AugmentParams, augment, draw_params, to_uint8
from client_trainer.purchase.fit import ImageFitError, fit_descriptor, fit_image, sendable
from client_trainer.purchase.tracker import Query
from shared.codec import ImageLimits, encode_png, to_base64
from shared.hashing import content_key, text_content_key


def _fitted_file(path: Path, limits: ImageLimits) -> str:
    try:
        return to_base64(fit_image(path.read_bytes(), limits))
    except ImageFitError as exc:
        raise ImageFitError(f"image {path}: {exc}") from exc


def image_file_query(model_id: str, path: Path, limits: ImageLimits) -> Query:
    """Keyed by the file's bytes (and the fit, when one is needed); the payload re-reads and,
    if need be, fits the file only when it must be bought."""
    raw = path.read_bytes()
    try:
        as_is = sendable(raw, limits)
    except ImageFitError as exc:
        raise ImageFitError(f"image {path}: {exc}") from exc
    if as_is:
        return Query(content_key(model_id, "image", raw), lambda: to_base64(path.read_bytes()))
    key = content_key(model_id, "image", raw, fit_descriptor(limits))
    return Query(key, lambda: _fitted_file(path, limits))


def pixels_query(
    model_id: str, pixels: torch.Tensor, descriptor: str, limits: ImageLimits
) -> Query:
    """A (3, S, S) uint8 view, sent as lossless PNG (fitted when over the vendor's limits)."""
    png = encode_png(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()))
    if sendable(png, limits):
        return Query(content_key(model_id, "image", png, descriptor), to_base64(png))
    fitted = f"{descriptor}+{fit_descriptor(limits)}"
    return Query(content_key(model_id, "image", png, fitted), to_base64(fit_image(png, limits)))


def class_prompts(classes: tuple[str, ...], ensemble: bool) -> list[list[str]]:
    """Per class, its prompts: "a photo of a {class}" (underscores -> spaces) or the ensemble."""
    templates = ENSEMBLE_TEMPLATES if ensemble else (PROMPT_TEMPLATE,)
    return [[t.format(name.replace("_", " ")) for t in templates] for name in classes]


def text_query(model_id: str, prompt: str) -> Query:
    return Query(text_content_key(model_id, prompt), prompt)


def view_seed(image_key: str, k: int, seed: int) -> int:
    """Seed of view k of one image: depends on the image content, k and the run seed only."""
    digest = hashlib.sha256(f"{image_key}:{k}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def make_views(
    pixels: torch.Tensor, image_keys: list[str], k_views: int, seed: int, size: int
) -> torch.Tensor:
    """(N, 3, S, S) uint8 -> (N, K, 3, size, size) uint8, each view reproducible on its own."""
    params = [
        draw_params(1, torch.Generator().manual_seed(view_seed(key, k, seed)))
        for key in image_keys
        for k in range(k_views)
    ]
    source = pixels.repeat_interleave(k_views, dim=0)
    views = to_uint8(augment(source, AugmentParams.stack(params), size))
    return views.view(len(pixels), k_views, 3, size, size)


def view_descriptor(size: int, k: int, seed: int) -> str:
    return f"view:v1:{size}:{k}:{seed}"


def per_step_descriptor(size: int) -> str:
    return f"per-step:v1:{size}"


def probe_descriptor(family: str, size: int, seed: int) -> str:
    return f"probe:v1:{family}:{size}:{seed}"
