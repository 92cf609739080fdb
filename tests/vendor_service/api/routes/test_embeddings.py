"""POST /v1/embeddings in-process: the happy paths and what gets charged."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import redis

from shared.codec import embedding_from_base64
from shared.schemas import EmbeddingResponse, Modality
from tests.support.redis import PipelineRecorder
from tests.vendor_service.conftest import MODEL_ID, AppMaker, VendorApp, png_b64


async def test_text_embeddings_are_normalised_and_charged(vendor_app: VendorApp) -> None:
    key_id, api_key = await vendor_app.create_key(budget=100)
    response = await vendor_app.embed(api_key, ["a cat", "a dog", "a cat"])
    assert response.status_code == 200, response.text
    body = EmbeddingResponse.model_validate_json(response.content)
    vectors = np.array([d.embedding for d in body.data])
    assert vectors.shape == (3, vendor_app.state.engine.info.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)
    assert body.model == MODEL_ID
    assert (body.usage.texts, body.usage.images, body.usage.cost) == (3, 0, 3)
    assert body.usage.budget_remaining == 97
    assert response.headers["X-Budget-Remaining"] == "97"
    assert response.headers["X-Request-Id"]
    assert int(response.headers["X-RateLimit-Remaining-Requests"]) >= 0
    info = await vendor_app.key_info(key_id)
    assert (info["spent"], info["remaining"], info["reserved"], info["texts"]) == (3, 97, 0, 3)


async def test_image_embeddings_base64_match_float(vendor_app: VendorApp) -> None:
    _, api_key = await vendor_app.create_key(budget=100)
    images = [png_b64(seed=1), "data:image/png;base64," + png_b64(seed=2)]
    as_float = await vendor_app.embed(api_key, images, modality="image")
    as_b64 = await vendor_app.embed(api_key, images, modality="image", encoding_format="base64")
    assert as_float.status_code == as_b64.status_code == 200
    floats = np.array([d["embedding"] for d in as_float.json()["data"]], dtype=np.float32)
    decoded = np.stack([embedding_from_base64(d["embedding"]) for d in as_b64.json()["data"]])
    np.testing.assert_allclose(floats, decoded, atol=1e-6)
    assert as_b64.json()["usage"] == {
        "prompt_tokens": 2,
        "total_tokens": 2,
        "images": 2,
        "texts": 0,
        "cost": 20,
        "budget_remaining": 60,
    }


async def test_single_string_input(vendor_app: VendorApp) -> None:
    _, api_key = await vendor_app.create_key(budget=10)
    response = await vendor_app.embed(api_key, "just one")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


async def test_keys_are_isolated(vendor_app: VendorApp) -> None:
    first_id, first = await vendor_app.create_key(budget=50)
    second_id, _ = await vendor_app.create_key(budget=50)
    assert (await vendor_app.embed(first, ["x"] * 5)).status_code == 200
    assert (await vendor_app.key_info(first_id))["spent"] == 5
    assert (await vendor_app.key_info(second_id))["spent"] == 0


async def test_unmetered_benchmark_mode_charges_nothing(make_app: AppMaker) -> None:
    async with make_app(dev_mode=True, unmetered=True) as vendor:
        key_id, api_key = await vendor.create_key(budget=0)
        response = await vendor.embed(api_key, [png_b64()], "image")
        assert response.status_code == 200
        assert "X-Budget-Remaining" not in response.headers
        assert (await vendor.key_info(key_id))["spent"] == 0


async def test_same_image_same_embedding_whatever_the_batch(make_app: AppMaker) -> None:
    async with make_app(max_wait_ms=20.0) as vendor:
        _, api_key = await vendor.create_key(budget=10_000)
        target = png_b64(seed=42)
        alone = await vendor.embed(api_key, [target], "image")
        crowd = [png_b64(seed=s) for s in range(7)]
        together = await vendor.embed(api_key, [*crowd, target], "image")
        first = np.array(alone.json()["data"][0]["embedding"])
        last = np.array(together.json()["data"][-1]["embedding"])
        np.testing.assert_allclose(first, last, atol=1e-5, rtol=0)


def slow_reserves(vendor: VendorApp, seconds: float = 0.05) -> None:
    """Every reserve round trip takes `seconds` longer: anything that does not wait for it
    shows."""
    ledger = vendor.state.ledger
    reserve = ledger.reserve

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(seconds)
        return await reserve(*args, **kwargs)

    ledger.reserve = slow


async def test_every_forward_runs_on_money_already_reserved(
    make_app: AppMaker, redis_url: str
) -> None:
    """The request waits in the batch queue while its reserve is in flight, never in a batch."""
    async with make_app(max_wait_ms=0.0) as vendor:
        key_id, api_key = await vendor.create_key(budget=100)
        slow_reserves(vendor)
        ledger = redis.Redis.from_url(redis_url)
        key_hash = vendor.state.ledger.key_hash(key_id)
        held_at_forward: list[int] = []  # the key's reserved credits as each forward starts
        vendor.model.on_forward = lambda size: held_at_forward.append(
            int(ledger.hget(key_hash, "reserved") or 0)
        )
        assert (await vendor.embed(api_key, ["a", "b"])).status_code == 200
        assert (await vendor.embed(api_key, [png_b64()], "image")).status_code == 200
        ledger.close()
        assert held_at_forward == [2 * 1, 10]  # two texts at 1 credit, one image at 10
        info = await vendor.key_info(key_id)
        assert (info["spent"], info["reserved"]) == (12, 0)


async def test_a_request_refused_by_the_reserve_never_reaches_the_model(
    make_app: AppMaker,
) -> None:
    async with make_app(max_wait_ms=0.0) as vendor:
        _, api_key = await vendor.create_key(budget=1)
        slow_reserves(vendor)
        forwards = vendor.model.forward_sizes
        warm_up = len(forwards)
        refused = await vendor.embed(api_key, ["a", "b"])  # texts: the reserve is the check
        assert refused.status_code == 402
        await asyncio.sleep(0)  # the cancelled wait's callbacks run on the loop's next turn
        queued = vendor.state.engine.batchers[Modality.TEXT].queued_items
        assert forwards[warm_up:] == [] and queued == 0
        assert (await vendor.embed(api_key, ["a"])).status_code == 200
        assert forwards[warm_up:] == [1]


@pytest.mark.parametrize("pipelining", [True, False])
async def test_the_commits_of_one_batch_share_a_round_trip(
    make_app: AppMaker, pipelining: bool
) -> None:
    # The batch closes when its eighth image arrives; the long wait only keeps a loaded machine
    # from closing it early.
    async with make_app(
        max_wait_ms=1000.0, max_batch_size=8, redis_pipelining=pipelining
    ) as vendor:
        key_id, api_key = await vendor.create_key(budget=1000)
        state = vendor.state
        assert state.rate_limiter.pipeliner is state.ledger.pipeliner  # one for both
        recorder = PipelineRecorder(state.ledger.client)
        bodies = [[png_b64(seed=i)] for i in range(8)]
        responses = await asyncio.gather(*(vendor.embed(api_key, b, "image") for b in bodies))
        assert [r.status_code for r in responses] == [200] * 8
        assert vendor.model.forward_sizes[-1] == 8  # one forward answered all eight
        # The eight commits went as one pipeline; without pipelining, no call shares one.
        commits = recorder.scripts(state.ledger._scripts["commit"].sha)
        assert (8 in commits) if pipelining else recorder.sent == []
        assert (await vendor.key_info(key_id))["spent"] == 80
