"""Typed configs of the world's corpora. Each one is hashed to name its cached artefact."""

from __future__ import annotations

from dataclasses import dataclass

from shared.world.objects import CLASSES
from shared.world.styles import STYLES

ALL_CLASSES: tuple[str, ...] = tuple(CLASSES)
ALL_STYLES: tuple[str, ...] = tuple(STYLES)
# the client's PACS-like task: 8 of the world's classes in PACS's 4 domains
TASK_CLASSES: tuple[str, ...] = (
    "car",
    "cat",
    "fish",
    "flower",
    "guitar",
    "house",
    "rocket",
    "tree",
)
TASK_DOMAINS: tuple[str, ...] = ("art_painting", "cartoon", "photo", "sketch")

# stream ids keep the corpora's random streams apart (with the world seed they seed every image)
VENDOR_STREAM, STUDENT_STREAM, TASK_STREAM, GRID_STREAM = 1, 2, 3, 4


@dataclass(frozen=True)
class CorpusConfig:
    """A labelled image corpus stored as arrays: the vendor's captions or the student's data."""

    seed: int = 0  # world seed; with `stream` and the image index it seeds every image
    stream: int = VENDOR_STREAM  # which corpus this is; distinct streams never share an image
    image_size: int = 64  # images are image_size x image_size RGB
    n_images: int = 24_000  # how many images
    classes: tuple[str, ...] = ALL_CLASSES  # object classes, drawn in turn (balanced)
    styles: tuple[str, ...] = ALL_STYLES  # styles the images are drawn in
    style_weights: tuple[float, ...] = ()  # relative frequency per style; empty = uniform
    workers: int = 2  # processes rendering in parallel (does not change the images)


@dataclass(frozen=True)
class TaskConfig:
    """The client's PACS-like task, written as DomainBed folders."""

    seed: int = 0  # world seed
    dataset: str = "WORLD_PACS"  # DomainBed data set folder name
    image_size: int = 64  # images are image_size x image_size RGB PNGs
    classes: tuple[str, ...] = TASK_CLASSES  # the task's classes (folder names)
    domains: tuple[str, ...] = TASK_DOMAINS  # the task's domains = world styles (folder names)
    per_class: int = 40  # images per (domain, class): 8 classes x 40 = 320 per domain
    workers: int = 2  # processes rendering in parallel (does not change the images)


def vendor_corpus(seed: int = 0, image_size: int = 64, n_images: int = 24_000) -> CorpusConfig:
    """The vendor's caption corpus: every class in every style, uniformly."""
    return CorpusConfig(seed=seed, stream=VENDOR_STREAM, image_size=image_size, n_images=n_images)


def student_corpus(
    seed: int = 0, image_size: int = 64, n_images: int = 9_600, photo_share: float = 0.6
) -> CorpusConfig:
    """The student's "ImageNet": every class, mostly photos, some of every other style."""
    rest = (1.0 - photo_share) / (len(ALL_STYLES) - 1)
    weights = tuple(photo_share if s == "photo" else rest for s in ALL_STYLES)
    return CorpusConfig(
        seed=seed, stream=STUDENT_STREAM, image_size=image_size, n_images=n_images,
        style_weights=weights,
    )  # fmt: skip
