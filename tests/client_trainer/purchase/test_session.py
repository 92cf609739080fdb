"""TeacherSession: prompts, prompt ensembles, view purchases and cache-only reads against a
live vendor."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from client_trainer.config import ENSEMBLE_TEMPLATES, RunConfig, TeacherConfig
from client_trainer.data.splits import load_task
from client_trainer.purchase.queries import class_prompts
from client_trainer.purchase.session import CacheMiss, TeacherSession
from tests.support.live_vendor import LiveVendor


def test_prompts_replace_underscores() -> None:
    assert class_prompts(("big_cat",), ensemble=False) == [["a photo of a big cat"]]
    assert len(class_prompts(("dog",), ensemble=True)[0]) == len(ENSEMBLE_TEMPLATES)


@pytest.fixture
def session(vendor: LiveVendor, redis_url: str, redis_prefix: str) -> TeacherSession:
    _, api_key = vendor.create_key(100_000)
    config = TeacherConfig.model_validate(
        {
            "vendor_url": vendor.base_url,
            "api_key": api_key,
            "redis_url": redis_url,
            "redis_prefix": redis_prefix,
        }
    )
    return TeacherSession(config, "session-test")


def test_ensemble_is_the_renormalised_mean_of_its_prompts(session: TeacherSession) -> None:
    with session:
        ensemble = session.texts(("big_cat", "dog"), ensemble=True)
        single = session.texts(("big_cat", "dog"), ensemble=False)
        rows = session.prompt_embeddings(class_prompts(("dog",), True)[0])
        record = session.record()
    expected = F.normalize(rows.mean(dim=0, keepdim=True), dim=-1)
    assert torch.allclose(ensemble[1:], expected, atol=1e-6)
    assert torch.allclose(ensemble.norm(dim=1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(ensemble, single)
    # Each distinct prompt bought once; "a photo of a ..." is part of the ensemble already.
    assert record.texts == 2 * len(ENSEMBLE_TEMPLATES)


def test_views_are_bought_once_per_image_view_and_seed(
    session: TeacherSession, quick: RunConfig
) -> None:
    task = load_task(quick.data, 0)
    with session:
        views, emb = session.views(task.train, 2, seed=0, size=32)
        again_views, again = session.views(task.train, 2, seed=0, size=32)
        after_same = session.record().images
        session.views(task.train, 1, seed=1, size=32)
        after_other_seed = session.record().images
    n = len(task.train)
    assert views.shape == (n, 2, 3, 32, 32) and emb.shape == (n, 2, 32)
    assert torch.equal(views, again_views) and torch.equal(emb, again)
    assert after_same == 2 * n  # the second call was all cache hits
    assert after_other_seed == 3 * n  # another seed = other views = new queries


def test_reading_the_cache_only_never_buys_and_counts_nothing(session: TeacherSession) -> None:
    with session:
        with session.cache_only(), pytest.raises(CacheMiss, match=r"2 of 2 embeddings \(texts\)"):
            session.texts(("dog", "big_cat"), ensemble=False)
        assert session.record().texts == 0 and session.record().cost == 0
        bought = session.texts(("dog", "big_cat"), ensemble=False)
        before = session.record()
        with session.cache_only():
            read = session.texts(("dog", "big_cat"), ensemble=False)
        assert session.record() == before  # nothing bought, no cache hit counted
    assert torch.equal(read, bought)
