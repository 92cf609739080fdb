"""Each weights format served: /v1/models names the weights, and /v1/embeddings returns what
open_clip's own `encode_image` / `encode_text` give on the same weights, normalised (served on
the CPU in fp32, so equal embeddings mean equal weights)."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from shared.schemas import ModelList
from tests.support.checkpoint_files import (
    TINY_VIT_QUICKGELU,
    model_directory,
    openai_archive,
    random_model,
    safetensors_file,
    state_dict_file,
)
from tests.vendor_service.conftest import AppMaker, VendorApp, png_b64
from vendor_service.engine.preprocess import OPENAI_MEAN, OPENAI_STD

TEXTS = ["a photo of a dog", "a sketch of a house", "guitar"]
HALF = (0.5, 0.5, 0.5)


def _directory(model: Any, path: Path) -> Path:
    return model_directory(model, TINY_VIT_QUICKGELU, path / "hf-model", mean=HALF, std=HALF)


# name -> (write the file, the file /v1/models names, its format, its mean and std)
FORMATS: dict[str, tuple[Callable[[Any, Path], Path], str, str, tuple[float, ...]]] = {
    "state dict": (lambda m, p: state_dict_file(m, p / "w.bin"), "w.bin", "state-dict",
                   OPENAI_MEAN),
    "safetensors": (lambda m, p: safetensors_file(m, p / "w.safetensors"), "w.safetensors",
                    "safetensors", OPENAI_MEAN),
    "OpenAI TorchScript": (lambda m, p: openai_archive(m, p / "ViT-B-16.pt"), "ViT-B-16.pt",
                           "torchscript", OPENAI_MEAN),
    "model directory": (_directory, "open_clip_model.safetensors", "safetensors", HALF),
}  # fmt: skip


@pytest.fixture(scope="module")
def teacher() -> Any:
    """The weights every format carries: OpenAI's layout needs the QuickGELU architecture."""
    return random_model(TINY_VIT_QUICKGELU)


def _reference_weights(teacher: Any, fmt: str) -> Any:
    """open_clip's own model on the weights as the file holds them (OpenAI's are fp16)."""
    if fmt != "torchscript":
        return teacher
    reference = random_model(TINY_VIT_QUICKGELU, seed=1)
    reference.load_state_dict({k: v.half().float() for k, v in teacher.state_dict().items()})
    return reference


async def _embed(vendor: VendorApp, api_key: str, model_id: str, **body: Any) -> torch.Tensor:
    response = await vendor.client.post(
        "/v1/embeddings", json={"model": model_id, **body},
        headers={"Authorization": f"Bearer {api_key}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return torch.tensor([item["embedding"] for item in response.json()["data"]])


def _reference_images(vendor: VendorApp, reference: Any, images: list[str], mean: Any) -> Any:
    """The service's pixels (resize and crop), normalised and encoded by open_clip itself."""
    pixels = torch.stack([
        vendor.model.inner.preprocess(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB"))
        for b in images
    ]).float() / 255  # fmt: skip
    shift = torch.tensor(mean).view(1, 3, 1, 1)
    scale = torch.tensor(OPENAI_STD if mean == OPENAI_MEAN else HALF).view(1, 3, 1, 1)
    with torch.inference_mode():
        return F.normalize(reference.encode_image((pixels - shift) / scale), dim=-1)


@pytest.mark.parametrize("name", list(FORMATS))
async def test_served_embeddings_equal_open_clips_on_the_same_weights(
    make_app: AppMaker, teacher: Any, tmp_path: Path, name: str
) -> None:
    write, file_name, fmt, mean = FORMATS[name]
    path = write(teacher, tmp_path)
    async with make_app(model=TINY_VIT_QUICKGELU, pretrained=str(path), device="cpu") as vendor:
        card = ModelList.model_validate_json((await vendor.client.get("/v1/models")).content)
        weights = card.data[0].pretrained
        assert weights is not None and (weights.name, weights.format) == (file_name, fmt)
        weights_file = path / file_name if path.is_dir() else path
        assert weights.sha256 == hashlib.sha256(weights_file.read_bytes()).hexdigest()
        assert card.data[0].id == f"{TINY_VIT_QUICKGELU}@{weights.sha256[:8]}"
        _, api_key = await vendor.create_key(budget=1000)
        texts = await _embed(vendor, api_key, card.data[0].id, input=TEXTS)
        images_b64 = [png_b64(40 + 9 * i, 30, seed=i) for i in range(3)]
        images = await _embed(vendor, api_key, card.data[0].id, input=images_b64,
                              modality="image")  # fmt: skip
        reference = _reference_weights(teacher, fmt)
        with torch.inference_mode():
            tokens = open_clip.get_tokenizer(TINY_VIT_QUICKGELU)(TEXTS)
            expected_texts = F.normalize(reference.encode_text(tokens), dim=-1)
        torch.testing.assert_close(texts, expected_texts, atol=1e-5, rtol=0)
        expected = _reference_images(vendor, reference, images_b64, mean)
        torch.testing.assert_close(images, expected, atol=1e-5, rtol=0)


async def test_the_archive_matches_open_clips_own_openai_loader(
    make_app: AppMaker, teacher: Any, tmp_path: Path
) -> None:
    """open_clip's `load_openai_model` builds its model from the archive's shapes alone."""
    path = openai_archive(teacher, tmp_path / "ViT-B-16.pt")
    reference = open_clip.load_openai_model(str(path), device="cpu").eval()
    async with make_app(model=TINY_VIT_QUICKGELU, pretrained=str(path), device="cpu") as vendor:
        _, api_key = await vendor.create_key(budget=100)
        model_id = vendor.state.engine.info.model_id
        texts = await _embed(vendor, api_key, model_id, input=TEXTS)
    with torch.inference_mode():
        tokens = open_clip.tokenize(TEXTS, context_length=reference.context_length)
        expected = F.normalize(reference.encode_text(tokens), dim=-1)
    torch.testing.assert_close(texts, expected, atol=1e-5, rtol=0)


async def test_random_weights_are_named_random(vendor_app: VendorApp) -> None:
    card = ModelList.model_validate_json((await vendor_app.client.get("/v1/models")).content)
    weights = card.data[0].pretrained
    assert weights is not None and (weights.source, weights.name) == ("random", "random0")
