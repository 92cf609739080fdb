"""Render a corpus in parallel and store it as arrays (images, labels, styles, colours).

Image i of a corpus is drawn from `default_rng([seed, stream, i])` alone, so the result does not
depend on how many workers render it, and corpora with different streams are disjoint.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.world.artifacts import cached, default_root
from shared.world.config import CorpusConfig
from shared.world.palette import COLOUR_NAMES
from shared.world.render import render

KIND = "corpus"


@dataclass(frozen=True)
class Corpus:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64 index into classes
    styles: np.ndarray  # (N,) int64 index into style_names
    colours: np.ndarray  # (N,) int64 index into colour_names
    classes: tuple[str, ...]  # class names
    style_names: tuple[str, ...]  # style names
    colour_names: tuple[str, ...]  # colour names


def _style_of(config: CorpusConfig, rng: np.random.Generator) -> int:
    if not config.style_weights:
        return int(rng.integers(len(config.styles)))
    p = np.asarray(config.style_weights, dtype=np.float64)
    return int(rng.choice(len(config.styles), p=p / p.sum()))


def _render_range(args: tuple[CorpusConfig, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Images and (label, style, colour) rows of indices [start, stop)."""
    config, start, stop = args
    size = config.image_size
    images = np.empty((stop - start, size, size, 3), np.uint8)
    meta = np.empty((stop - start, 3), np.int64)
    for row, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([config.seed, config.stream, i])
        label = i % len(config.classes)
        style = _style_of(config, rng)
        sample = render(config.classes[label], config.styles[style], size, rng)
        images[row] = sample.image
        meta[row] = (label, style, COLOUR_NAMES.index(sample.colour))
    return images, meta


def render_corpus(config: CorpusConfig) -> Corpus:
    """Render every image of `config` (in `config.workers` processes)."""
    chunk = 500
    jobs = [(config, s, min(s + chunk, config.n_images)) for s in range(0, config.n_images, chunk)]
    if config.workers > 1 and len(jobs) > 1:
        with mp.get_context("fork").Pool(config.workers) as pool:
            parts = pool.map(_render_range, jobs)
    else:
        parts = [_render_range(job) for job in jobs]
    images = np.concatenate([p[0] for p in parts])
    meta = np.concatenate([p[1] for p in parts])
    return Corpus(
        images, meta[:, 0], meta[:, 1], meta[:, 2], config.classes, config.styles, COLOUR_NAMES
    )


def _save(corpus: Corpus, out: Path) -> dict[str, object]:
    np.save(out / "images.npy", corpus.images)
    np.save(out / "labels.npy", corpus.labels)
    np.save(out / "styles.npy", corpus.styles)
    np.save(out / "colours.npy", corpus.colours)
    names = {
        "classes": corpus.classes,
        "styles": corpus.style_names,
        "colours": corpus.colour_names,
    }
    (out / "names.json").write_text(json.dumps(names))
    return {"n_images": len(corpus.labels)}


def build_corpus(config: CorpusConfig, root: Path | None = None) -> Path:
    """The cached corpus directory for `config` (rendered on first use)."""
    return cached(
        root or default_root(), KIND, config, lambda out: _save(render_corpus(config), out)
    )


def load_corpus(path: Path, mmap: bool = True) -> Corpus:
    """A corpus written by `build_corpus`; images memory-mapped unless `mmap` is False."""
    path = Path(path)
    names = json.loads((path / "names.json").read_text())
    return Corpus(
        images=np.load(path / "images.npy", mmap_mode="r" if mmap else None),
        labels=np.load(path / "labels.npy"),
        styles=np.load(path / "styles.npy"),
        colours=np.load(path / "colours.npy"),
        classes=tuple(names["classes"]),
        style_names=tuple(names["styles"]),
        colour_names=tuple(names["colours"]),
    )
