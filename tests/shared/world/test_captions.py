"""Captions name the style in a controllable share of cases; the zero-shot prompt is fixed."""

from __future__ import annotations

import numpy as np
import pytest

from shared.world.captions import STYLE_WORDS, CaptionConfig, caption, prompt


def _style_share(p: float, n: int = 400) -> float:
    rng, config = np.random.default_rng(0), CaptionConfig(style_word_p=p, colour_word_p=0.0)
    texts = [caption("star", "sketch", "red", config, rng) for _ in range(n)]
    return sum(any(t.startswith(w) for w in STYLE_WORDS["sketch"]) for t in texts) / n


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_style_word_frequency_follows_config(p: float) -> None:
    assert abs(_style_share(p) - p) < 0.08


def test_caption_names_class_and_colour() -> None:
    text = caption(
        "lightning", "photo", "orange", CaptionConfig(1.0, 1.0), np.random.default_rng(0)
    )
    assert "an orange lightning" in text


def test_prompt_is_the_papers() -> None:
    assert prompt("umbrella") == "a photo of an umbrella"
    assert prompt("hot_dog") == "a photo of a hot dog"
