"""The vendor's VLM trains a few steps on a micro corpus and loads through open_clip by name
and through the vendor's own weights checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from shared.world.captions import NEUTRAL_PREFIXES, STYLE_WORDS, CaptionConfig, with_article
from shared.world.config import ALL_CLASSES, vendor_corpus
from shared.world.corpus import build_corpus, load_corpus
from shared.world.palette import COLOUR_NAMES
from vendor_service.engine.model_configs import register_model_configs
from vendor_service.engine.teacher_weights import check_teacher_weights
from vendor_service.vlm import VLMTrainConfig, train_vlm
from vendor_service.vlm.batches import CaptionSampler


def _micro(steps: int = 3) -> VLMTrainConfig:
    corpus = vendor_corpus(image_size=32, n_images=48)
    return VLMTrainConfig(
        corpus=corpus, steps=steps, batch_size=16, warmup_steps=1, holdout=16,
        throughput_images=128,
    )  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_vlm(_micro(), tmp_path_factory.mktemp("artifacts"))


def test_checkpoint_loads_through_open_clip_by_name(checkpoint: Path) -> None:
    register_model_configs()
    model, _, _ = open_clip.create_model_and_transforms("world-clip", pretrained=str(checkpoint))
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    with torch.no_grad():
        emb = model.encode_image(torch.zeros(2, 3, 32, 32))
    assert emb.shape == (2, 128)
    assert check_teacher_weights("world-clip", str(checkpoint)).format == "state-dict"


def test_training_changed_the_weights_and_wrote_a_manifest(checkpoint: Path) -> None:
    register_model_configs()
    fresh = open_clip.create_model("world-clip")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert not torch.equal(fresh.state_dict()["visual.conv1.weight"], saved["visual.conv1.weight"])
    manifest = json.loads((checkpoint.parent / "manifest.json").read_text())
    assert manifest["kind"] == "vlm"
    assert set(manifest["zero_shot_holdout"]) >= {"photo", "sketch", "all"}
    assert manifest["encode_image_per_s"] > 0


def test_second_call_reuses_the_artifact(checkpoint: Path) -> None:
    root = checkpoint.parent.parent
    stamp = checkpoint.stat().st_mtime_ns
    assert train_vlm(_micro(), root) == checkpoint
    assert checkpoint.stat().st_mtime_ns == stamp


def test_caption_sampler_redraws_captions(tmp_path: Path) -> None:
    corpus = load_corpus(
        build_corpus(
            vendor_corpus(
                image_size=16,
                n_images=24,
            ),
            tmp_path,
        )
    )
    register_model_configs()
    sampler = CaptionSampler(
        corpus, CaptionConfig(0.5, 0.5), open_clip.get_tokenizer("world-clip"), 0
    )
    index = np.zeros(40, dtype=np.int64)
    texts = sampler.captions(index)
    assert len(set(texts)) > 3 and all("star" in t for t in texts)
    assert sampler.tokens(index).shape == (40, 12)


def test_every_caption_fits_the_text_context() -> None:
    """world-clip reads 12 tokens: the longest caption (with start and end) must fit whole."""
    register_model_configs()
    tokenizer = open_clip.get_tokenizer("world-clip")
    prefixes = [*NEUTRAL_PREFIXES, *(w for words in STYLE_WORDS.values() for w in words)]
    nouns = [f"{c} {k}" for c in COLOUR_NAMES for k in ALL_CLASSES] + list(ALL_CLASSES)
    texts = [f"{p} {with_article(n)}".strip() for p in prefixes for n in nouns]
    tokens = tokenizer(texts)
    assert bool((tokens[:, -1] == 0).all()), "some caption fills the whole context"
    assert tokens.shape[1] == 12
