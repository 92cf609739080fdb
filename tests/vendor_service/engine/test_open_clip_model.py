"""The real open_clip model (tiny, random weights): shapes, norms, seeding, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vendor_service.engine.open_clip_model import OpenClipModel
from vendor_service.settings import Settings

TOKEN = "test-admin-token-0123456789abcdef"


@pytest.fixture(scope="module")
def model() -> OpenClipModel:
    return OpenClipModel(Settings(admin_token=TOKEN, model="tiny-clip-test", pretrained="random"))


def images(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 255, (30 + i, 50, 3), dtype=np.uint8)) for i in range(n)
    ]


def test_info_and_model_id(model: OpenClipModel) -> None:
    assert model.info.model_id == "tiny-clip-test@random0"
    assert (model.info.embedding_dim, model.info.image_size) == (32, 32)


def test_outputs_are_normalised_float32(model: OpenClipModel) -> None:
    batch = torch.stack([model.preprocess(im) for im in images(3)])
    assert batch.shape == (3, 3, 32, 32)
    for out in (model.encode_images(batch), model.encode_texts(["a", "b c"])):
        assert out.dtype == torch.float32 and out.device.type == "cpu"
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(len(out)))


def test_same_seed_same_weights_across_instances(model: OpenClipModel) -> None:
    again = OpenClipModel(Settings(admin_token=TOKEN, model="tiny-clip-test", pretrained="random"))
    other = OpenClipModel(
        Settings(admin_token=TOKEN, model="tiny-clip-test", pretrained="random", seed=1)
    )
    texts = ["same text"]
    torch.testing.assert_close(model.encode_texts(texts), again.encode_texts(texts))
    assert not torch.allclose(model.encode_texts(texts), other.encode_texts(texts))
    assert other.info.model_id == "tiny-clip-test@random1"


def test_embedding_does_not_depend_on_batch_composition(model: OpenClipModel) -> None:
    """Guarantee: equal within 1e-5 whatever else is in the batch (not bit-identical)."""
    tensors = [model.preprocess(im) for im in images(16, seed=4)]
    alone = model.encode_images(tensors[0].unsqueeze(0))[0]
    in_batch = model.encode_images(torch.stack(tensors))[0]
    other_batch = model.encode_images(torch.stack([tensors[0], *tensors[8:]]))[0]
    torch.testing.assert_close(alone, in_batch, atol=1e-5, rtol=0)
    torch.testing.assert_close(alone, other_batch, atol=1e-5, rtol=0)


def test_random_weights_are_described(model: OpenClipModel) -> None:
    weights = model.info.weights
    assert weights is not None and (weights.source, weights.name) == ("random", "random0")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_autocast_matches_cpu(model: OpenClipModel) -> None:
    gpu = OpenClipModel(
        Settings(admin_token=TOKEN, model="tiny-clip-test", pretrained="random", device="cuda")
    )
    assert gpu.autocast_dtype in (torch.float16, torch.bfloat16)
    batch = torch.stack([model.preprocess(im) for im in images(4)])
    on_gpu = gpu.encode_images(batch)
    assert on_gpu.dtype == torch.float32 and on_gpu.device.type == "cpu"
    torch.testing.assert_close(on_gpu, model.encode_images(batch), atol=3e-2, rtol=0)
