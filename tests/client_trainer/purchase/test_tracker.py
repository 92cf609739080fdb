"""BudgetTracker against real Redis and a live vendor: cache, record, cap, no double buys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import redis

from client_trainer.config import RunConfig
from client_trainer.pipeline import buy_embeddings
from client_trainer.purchase.tracker import READ_CHUNK, BudgetTracker, SpendCapReached
from client_trainer.teacher.client import PurchasedBatch
from shared.redis_connection import connect
from shared.schemas import Modality
from tests.client_trainer.tree import CLASSES, DOMAINS
from tests.support.live_vendor import LiveVendor
from tests.support.run_config import quick_config, with_vendor

N_IMAGES = len(DOMAINS) * len(CLASSES) * 6
PRICE_IMAGE, PRICE_TEXT = 10, 1  # the vendor's defaults
FULL_COST = N_IMAGES * PRICE_IMAGE + len(CLASSES) * PRICE_TEXT


@pytest.fixture
def tracker(each_redis_url: str, each_redis_prefix: str) -> BudgetTracker:
    """On one Redis server and on a Redis Cluster."""
    return BudgetTracker(connect(each_redis_url), each_redis_prefix, "unit", cap=None)


def test_store_then_cached_roundtrips_exact_float32_and_records_spend(
    tracker: BudgetTracker,
) -> None:
    vectors = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    keys = [f"k{i}" for i in range(5)]
    tracker.store(PurchasedBatch(Modality.IMAGE, keys, vectors, cost=50, budget_remaining=0))
    found = tracker.cached([*keys, "absent"])
    assert sorted(found) == keys
    assert all(np.array_equal(found[k], vectors[i]) for i, k in enumerate(keys))
    record = tracker.record()
    assert (record.images, record.texts, record.cost, record.requests) == (5, 0, 50, 1)


def test_cache_reads_span_several_mget_chunks_exactly(tracker: BudgetTracker) -> None:
    """More keys than one MGET takes: every chunk comes back, in order, bit for bit.
    (How fast: benchmarks/bench_client_cache.py.)"""
    n = 2 * READ_CHUNK + 7
    vectors = np.random.default_rng(1).normal(size=(n, 16)).astype(np.float32)
    keys = [f"h{i}" for i in range(n)]
    tracker.store(PurchasedBatch(Modality.IMAGE, keys, vectors, cost=0, budget_remaining=0))
    found = tracker.cached(keys)
    assert list(found) == keys
    assert np.array_equal(np.stack([found[k] for k in keys]), vectors)


def _buy_config(
    quick: RunConfig, vendor: LiveVendor, api_key: str, redis_url: str, prefix: str, **kw: object
) -> RunConfig:
    return with_vendor(quick, vendor.base_url, api_key, redis_url, prefix, **kw)


def test_second_run_of_the_same_job_buys_nothing(
    vendor: LiveVendor, each_redis_url: str, each_redis_prefix: str, quick: RunConfig
) -> None:
    """The client's cache and record on one Redis server, and on a Redis Cluster."""
    key_id, api_key = vendor.create_key(100_000)
    config = _buy_config(quick, vendor, api_key, each_redis_url, each_redis_prefix)
    first = buy_embeddings(config.with_overrides({"output.run_name": "first"}))
    assert (first.spend.images, first.spend.texts, first.spend.cost) == (
        N_IMAGES,
        len(CLASSES),
        FULL_COST,
    )
    second = buy_embeddings(config.with_overrides({"output.run_name": "second"}))
    assert (second.spend.images, second.spend.texts, second.spend.cost) == (0, 0, 0)
    assert second.spend.cache_hits == N_IMAGES + len(CLASSES)
    assert vendor.key_info(key_id)["spent"] == FULL_COST  # the vendor agrees


def test_cap_stops_buying_at_the_cap_and_says_what_is_missing(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig
) -> None:
    key_id, api_key = vendor.create_key(100_000)
    cap = len(CLASSES) * PRICE_TEXT + 25 * PRICE_IMAGE + 7  # 25 images fit, not 26
    config = _buy_config(quick, vendor, api_key, redis_url, redis_prefix, cap=cap)
    with pytest.raises(SpendCapReached) as caught:
        buy_embeddings(config)
    assert caught.value.have == 25 and caught.value.missing == N_IMAGES - 25
    assert caught.value.finish_cost == (N_IMAGES - 25) * PRICE_IMAGE
    assert "25 image embeddings" in str(caught.value) and "finishing would cost" in str(
        caught.value
    )
    assert vendor.key_info(key_id)["spent"] == cap - 7  # never past the cap
    # A bigger cap on the same run buys exactly the rest.
    report = buy_embeddings(config.with_overrides({"teacher.cap": FULL_COST}))
    assert report.spend.cost == FULL_COST
    assert vendor.key_info(key_id)["spent"] == FULL_COST


def test_clean_keys_hash_exact_file_bytes(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, tiny_root: Path, tmp_path: Path
) -> None:
    """Same pixels in a different file encoding are a different query (exact bytes)."""
    _, api_key = vendor.create_key(100_000)
    config = _buy_config(
        quick_config(tiny_root, tmp_path), vendor, api_key, redis_url, redis_prefix
    )
    buy_embeddings(config)
    client = redis.Redis.from_url(redis_url)
    stored = list(client.scan_iter(match=f"{redis_prefix}emb:*", count=1000))
    assert len(stored) == N_IMAGES + len(CLASSES)
