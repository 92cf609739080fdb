"""Load: many simulated clients and keys against two vendor replicas sharing one Redis prefix,
with admin top-ups landing meanwhile; afterwards every key's ledger is exact to the unit. On
one Redis server, and (slow: two more vendor processes) on a Redis Cluster.

Each client owns no key: it picks one of the keys per request, a replica per request, text or
image, a size, and sometimes an Idempotency-Key that it then re-sends (a replay must return
the same bytes and charge nothing). Tight budgets make keys run dry mid-run, so 402s race
with sales and top-ups. The clients' own count of what they received is the reference.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from shared.redis_connection import connect
from tests.reliability.conftest import SHARED_OVERRIDES
from tests.reliability.ledger_audit import assert_exact, read_key, wait_reserved_zero
from tests.reliability.payloads import b64, png_bytes
from tests.reliability.vendor_process import VendorProcess, running_vendors
from tests.support.live_vendor import ADMIN_TOKEN
from tests.support.redis import delete_prefix

IMAGES = [b64(png_bytes(8, 8, seed=i)) for i in range(16)]
ALLOWED = {200, 402, 429, 503}  # sold, budget spent, slow down, overloaded


@dataclass
class KeyTally:
    """What the clients saw for one key."""

    key_id: str
    api_key: str
    budget: int  # creation + every top-up that the admin route confirmed
    images: int = 0
    texts: int = 0
    sales: int = 0
    replays: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@pytest.fixture(scope="module", params=["single", pytest.param("cluster", marks=pytest.mark.slow)])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[VendorProcess]]:
    """On one server: the package's vendor plus a second process on the same Redis prefix. On
    the Redis Cluster: two processes of their own."""
    if request.param == "single":
        shared: VendorProcess = request.getfixturevalue("shared_vendor")
        with running_vendors(
            shared.redis_url, shared.prefix, shared.log_dir, **SHARED_OVERRIDES
        ) as (second,):
            yield [shared, second]
        return
    url = str(request.getfixturevalue("redis_cluster_url"))
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    try:
        with running_vendors(
            url, prefix, tmp_path_factory.mktemp("cluster-load"), 2, **SHARED_OVERRIDES
        ) as both:
            yield both
    finally:
        delete_prefix(url, prefix)


def _request(rng: random.Random, model_id: str) -> dict[str, Any]:
    if rng.random() < 0.4:
        images = rng.sample(IMAGES, rng.randint(1, 4))
        return {"model": model_id, "input": images, "modality": "image"}
    texts = [f"text {rng.randrange(10**6)}" for _ in range(rng.randint(1, 8))]
    return {"model": model_id, "input": texts}


def _count(tally: KeyTally, response: httpx.Response) -> None:
    tally.statuses[response.status_code] += 1
    assert response.status_code in ALLOWED, response.text[:300]
    if response.status_code != 200:
        return
    if response.headers.get("Idempotent-Replayed") == "true":
        tally.replays += 1
        return
    usage = response.json()["usage"]
    tally.images += usage["images"]
    tally.texts += usage["texts"]
    tally.sales += 1


async def _client(
    seed: int, urls: list[str], keys: list[KeyTally], model_id: str, going: Callable[[], bool]
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=60) as http:
        while going():
            tally = rng.choice(keys)
            body = _request(rng, model_id)
            headers = {"Authorization": f"Bearer {tally.api_key}"}
            if rng.random() < 0.3:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            url = f"{rng.choice(urls)}/v1/embeddings"
            response = await http.post(url, json=body, headers=headers)
            _count(tally, response)
            if response.status_code == 200 and "Idempotency-Key" in headers:
                again = await http.post(
                    f"{rng.choice(urls)}/v1/embeddings", json=body, headers=headers
                )
                _count(tally, again)
                assert again.content == response.content  # the stored bytes, not a new sale


async def _top_ups(urls: list[str], keys: list[KeyTally], until: float) -> None:
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as admin:
        while time.monotonic() < until:
            tally = rng.choice(keys)
            amount = rng.randint(1, 200)
            url = f"{rng.choice(urls)}/v1/admin/keys/{tally.key_id}/topup"
            (await admin.post(url, json={"amount": amount})).raise_for_status()
            tally.budget += amount
            await asyncio.sleep(0.2)


def _run_load(
    replicas: list[VendorProcess], model_id: str, clients: int, key_count: int, seconds: float
) -> list[KeyTally]:
    keys = []
    for i in range(key_count):
        budget = 400 if i % 2 else 10**6  # half the keys run dry mid-run
        key_id, api_key = replicas[i % 2].create_key(budget, f"load-{i}")
        keys.append(KeyTally(key_id, api_key, budget))
    urls = [vendor.base_url for vendor in replicas]

    started = time.monotonic()
    until = started + seconds

    def going() -> bool:
        """`seconds` of load with top-ups; then, on a machine too busy to have got there yet,
        on without top-ups until a tight budget ran dry and a replay was served (at most
        ten times as long), so the run always shows what the test asserts on."""
        now = time.monotonic()
        if now < until:
            return True
        ran_dry = any(k.statuses[402] for k in keys)
        replayed = any(k.replays for k in keys)
        return not (ran_dry and replayed) and now < started + 10 * seconds

    async def everything() -> None:
        tasks = [_client(seed, urls, keys, model_id, going) for seed in range(clients)]
        await asyncio.gather(*tasks, _top_ups(urls, keys, until))

    asyncio.run(everything())
    return keys


def _audit(keys: list[KeyTally], replicas: list[VendorProcess]) -> None:
    prefix = replicas[0].prefix
    ledger = connect(replicas[0].redis_url, socket_timeout=5)
    try:
        wait_reserved_zero(ledger, prefix, [k.key_id for k in keys], timeout=5)
        with replicas[1].admin() as admin:
            for tally in keys:
                reported = admin.get(f"/v1/admin/keys/{tally.key_id}").json()
                ledger_now = read_key(ledger, prefix, tally.key_id)
                assert_exact(
                    ledger_now, tally.budget, tally.images, tally.texts, tally.sales, reported
                )
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("clients", "key_count", "seconds"),
    [(12, 4, 4.0), pytest.param(48, 10, 10.0, marks=pytest.mark.slow)],
    ids=["small", "load"],
)
def test_ledger_is_exact_under_load_on_two_replicas(
    clients: int,
    key_count: int,
    seconds: float,
    replicas: list[VendorProcess],
) -> None:
    started = time.monotonic()
    keys = _run_load(replicas, replicas[0].model_id(), clients, key_count, seconds)
    elapsed = time.monotonic() - started
    _audit(keys, replicas)

    statuses = sum((k.statuses for k in keys), Counter())
    sales = sum(k.sales for k in keys)
    print(
        f"{clients} clients, {key_count} keys, 2 replicas on {replicas[0].redis_url[:14]}, "
        f"{elapsed:.1f}s: {sales} sales "
        f"({sales / elapsed:.0f}/s), {sum(k.replays for k in keys)} replays, "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    assert sales > clients  # every client got through more than once
    assert statuses[402] > 0  # the tight budgets really ran dry during the run
    assert sum(k.replays for k in keys) > 0
