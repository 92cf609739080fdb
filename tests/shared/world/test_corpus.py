"""Corpora: deterministic per seed whatever the worker count, disjoint by stream, cached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from shared.world.config import CorpusConfig, student_corpus, vendor_corpus
from shared.world.corpus import build_corpus, load_corpus, render_corpus


def _micro(**kw: object) -> CorpusConfig:
    base = {"image_size": 24, "n_images": 40, "workers": 1}
    return CorpusConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_corpus_is_deterministic_and_independent_of_workers() -> None:
    one = render_corpus(_micro(n_images=1200, workers=1))
    two = render_corpus(_micro(n_images=1200, workers=2))
    assert np.array_equal(one.images, two.images)
    assert np.array_equal(one.styles, two.styles)


def test_corpora_with_different_streams_or_seeds_share_no_image() -> None:
    def digests(config: CorpusConfig) -> set[str]:
        return {hashlib.sha256(im.tobytes()).hexdigest() for im in render_corpus(config).images}

    vendor = digests(vendor_corpus(image_size=24, n_images=60))
    student = digests(student_corpus(image_size=24, n_images=60))
    reseeded = digests(vendor_corpus(seed=1, image_size=24, n_images=60))
    assert len(vendor) == 60
    assert not vendor & student
    assert not vendor & reseeded


def test_student_corpus_is_mostly_photos_but_has_every_style() -> None:
    config = student_corpus(image_size=16, n_images=400)
    corpus = render_corpus(config)
    counts = np.bincount(corpus.styles, minlength=len(config.styles))
    photo = config.styles.index("photo")
    assert counts[photo] > 0.5 * len(corpus.styles)
    assert (counts > 0).all()


def test_labels_cover_every_class_evenly() -> None:
    corpus = render_corpus(_micro(n_images=48))
    assert np.bincount(corpus.labels).tolist() == [2] * 24


def test_build_corpus_caches_by_config(tmp_path: Path) -> None:
    first = build_corpus(_micro(), tmp_path)
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["kind"] == "corpus" and manifest["n_images"] == 40
    (first / "marker").write_text("kept")
    assert build_corpus(_micro(), tmp_path) == first
    assert (first / "marker").exists()  # reused, not rebuilt
    assert build_corpus(_micro(seed=5), tmp_path) != first
    loaded = load_corpus(first)
    assert loaded.images.shape == (40, 24, 24, 3)
    assert loaded.classes[loaded.labels[1]] == loaded.classes[1]


def test_failed_build_leaves_nothing_that_looks_finished(tmp_path: Path) -> None:
    from shared.world.artifacts import artifact_dir, cached

    def broken(out: Path) -> dict[str, object]:
        (out / "half.npy").write_bytes(b"x")
        raise RuntimeError("boom")

    config = _micro(seed=9)
    with pytest.raises(RuntimeError, match="boom"):
        cached(tmp_path, "corpus", config, broken)
    assert not artifact_dir(tmp_path, "corpus", config).exists()
    assert list(tmp_path.iterdir()) == []
