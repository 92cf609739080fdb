"""ProcessModel: the same embeddings as the model in-process; a dead child costs one batch."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import torch

from tests.support.live_vendor import TINY_MODEL
from vendor_service.app import open_clip_factory
from vendor_service.engine.open_clip_model import OpenClipModel
from vendor_service.engine.process_model import ModelProcessError, ProcessModel
from vendor_service.settings import Settings


def _settings() -> Settings:
    return Settings(model=TINY_MODEL, pretrained="", dev_mode=True, torch_threads=1)


def _broken_factory(settings: Settings) -> OpenClipModel:
    raise ValueError("no such checkpoint")


@pytest.fixture(scope="module")
def remote() -> Iterator[ProcessModel]:
    model = ProcessModel(_settings(), open_clip_factory)
    yield model
    model.close()


def test_matches_the_model_in_process(remote: ProcessModel) -> None:
    local = OpenClipModel(_settings())
    assert remote.info == local.info
    size = local.info.image_size
    batch = torch.rand(3, 3, size, size)
    assert torch.allclose(remote.encode_images(batch), local.encode_images(batch), atol=1e-5)
    texts = ["a photo of a star", "a sketch of a cat"]
    assert torch.allclose(remote.encode_texts(texts), local.encode_texts(texts), atol=1e-5)


def test_a_dead_child_fails_one_batch_then_restarts(remote: ProcessModel) -> None:
    pid = remote._process.pid
    os.kill(pid, signal.SIGKILL)
    remote._process.join(timeout=10)
    with pytest.raises(ModelProcessError, match="died"):
        remote.encode_texts(["lost with the process"])
    out = remote.encode_texts(["served by a new one"])
    assert out.shape == (1, remote.info.embedding_dim)
    assert remote._process.pid != pid


def test_a_model_that_cannot_load_refuses_to_start() -> None:
    with pytest.raises(ModelProcessError, match="no such checkpoint"):
        ProcessModel(_settings(), _broken_factory)
