"""Captions for world images, with a controllable share of style words.

Whether the teacher becomes style-invariant depends on its captions: when every caption names
the style, the text "a photo of a star" sits far from sketches of stars; when only about half
do, the class word carries the image-text match on every style. `style_word_p` sets that share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# style -> phrases that name it in a caption
STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "photo": ("a photo of", "a photograph of"),
    "art_painting": ("a painting of", "an oil painting of"),
    "cartoon": ("a cartoon of", "a cartoon drawing of"),
    "sketch": ("a pencil sketch of", "a sketch of"),
    "line_art": ("a line drawing of", "line art of"),
}
NEUTRAL_PREFIXES: tuple[str, ...] = ("", "an image of", "a picture of", "there is")


@dataclass(frozen=True)
class CaptionConfig:
    style_word_p: float = 0.5  # probability that a caption names the image's style
    colour_word_p: float = 0.5  # probability that a caption names the object's main colour


def class_phrase(class_name: str) -> str:
    """How a class name is written in text: underscores become spaces."""
    return class_name.replace("_", " ")


def with_article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def prompt(class_name: str) -> str:
    """The zero-shot prompt of the paper: "a photo of a {class name}"."""
    return f"a photo of {with_article(class_phrase(class_name))}"


def caption(
    class_name: str, style: str, colour: str, config: CaptionConfig, rng: np.random.Generator
) -> str:
    """One random caption of an image of a `colour` `class_name` drawn in `style`."""
    noun = class_phrase(class_name)
    if rng.random() < config.colour_word_p:
        noun = f"{colour} {noun}"
    if rng.random() < config.style_word_p:
        words = STYLE_WORDS[style]
        prefix = words[int(rng.integers(len(words)))]
    else:
        prefix = NEUTRAL_PREFIXES[int(rng.integers(len(NEUTRAL_PREFIXES)))]
    return f"{prefix} {with_article(noun)}".strip()
