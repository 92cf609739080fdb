"""GET /v1/usage, /v1/models, /healthz, /readyz, /metrics, /openapi.json."""

from __future__ import annotations

from shared.schemas import ModelList, UsageReport
from tests.vendor_service.conftest import MODEL_ID, VendorApp


async def test_usage_is_the_callers_own(vendor_app: VendorApp) -> None:
    key_id, api_key = await vendor_app.create_key(budget=30, name="me")
    await vendor_app.create_key(budget=999, name="someone else")
    assert (await vendor_app.embed(api_key, ["a", "b"])).status_code == 200
    response = await vendor_app.client.get(
        "/v1/usage", headers={"Authorization": f"Bearer {api_key}"}
    )
    usage = UsageReport.model_validate_json(response.content)
    assert (usage.key_id, usage.name, usage.budget, usage.spent, usage.remaining) == (
        key_id, "me", 30, 2, 28,
    )  # fmt: skip
    assert (usage.texts, usage.images, usage.requests, usage.reserved) == (2, 0, 1, 0)


async def test_models_lists_the_model_and_prices(vendor_app: VendorApp) -> None:
    models = ModelList.model_validate_json((await vendor_app.client.get("/v1/models")).content)
    card = models.data[0]
    assert (card.id, card.embedding_dim, card.image_size) == (MODEL_ID, 32, 32)
    assert (card.price_per_image, card.price_per_text) == (10, 1)


async def test_health_metrics_and_docs(vendor_app: VendorApp) -> None:
    _, api_key = await vendor_app.create_key(budget=30)
    await vendor_app.embed(api_key, ["a", "b"])
    assert (await vendor_app.client.get("/healthz")).json() == {"status": "ok"}
    ready = (await vendor_app.client.get("/readyz")).json()
    assert ready == {"status": "ready", "model": MODEL_ID, "worker": 0, "device": "cpu"}
    metrics = (await vendor_app.client.get("/metrics")).text
    for needle in (
        'vendor_worker_device{device="cpu",worker="0"} 1.0',
        'vendor_requests_total{route="/v1/embeddings",status="200"} 1.0',
        'vendor_items_total{modality="text"} 2.0',
        "vendor_spend_credits_total 2.0",
        "vendor_batch_size_bucket",
        "vendor_queue_items",
        "vendor_inference_seconds_bucket",
        "vendor_request_seconds_bucket",
        "vendor_ready_workers 1.0",
    ):
        assert needle in metrics
    schema = (await vendor_app.client.get("/openapi.json")).json()
    assert "/v1/embeddings" in schema["paths"] and "/v1/admin/keys" in schema["paths"]
    assert (await vendor_app.client.get("/docs")).status_code == 200
