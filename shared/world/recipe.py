"""The image size and corpora the shipped pipeline uses (chosen for 2 CPU cores).

The generator's own default is 64 px; the pipeline renders at 32 px, where the vendor's CLIP
encodes about 4.6x more images per second and every shape is still legible
(docs/offline-world.md).
"""

from __future__ import annotations

from shared.world.config import CorpusConfig, TaskConfig, student_corpus, vendor_corpus

RECIPE_IMAGE_SIZE = 32


def recipe_vendor_corpus() -> CorpusConfig:
    """The vendor's caption corpus at the recipe's size."""
    return vendor_corpus(image_size=RECIPE_IMAGE_SIZE)


def recipe_student_corpus() -> CorpusConfig:
    """The student's "ImageNet" at the recipe's size."""
    return student_corpus(image_size=RECIPE_IMAGE_SIZE)


def recipe_task() -> TaskConfig:
    """The client's PACS-like task at the recipe's size."""
    return TaskConfig(image_size=RECIPE_IMAGE_SIZE)
