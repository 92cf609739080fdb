"""Two live vendor replicas on one Redis ledger stay exact to the credit under concurrency.

What docker-compose.replicas.yml deploys, as real processes: two `vendor_service serve`
processes on loopback, one Redis (one server, and again a Redis Cluster), one key prefix.
One API key with a budget for exactly AFFORDABLE texts; many more concurrent one-text
requests than that, alternating between the replicas. Exactly AFFORDABLE must succeed, and
both replicas must agree on a ledger where budget = spent + remaining and spent = price x
items delivered. The processes start the way the containers do: the compose command through
docker/entrypoint.sh, the admin token read from the file that the provisioning step wrote.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_KINDS
from tests.support.compose import REPO_ROOT
from tests.support.live_vendor import LiveVendor, live_vendor_replicas
from tests.support.redis import delete_prefix

ENTRYPOINT = REPO_ROOT / "docker" / "entrypoint.sh"
PROBE = REPO_ROOT / "docker" / "probe.py"
PRICE_PER_TEXT = 3
AFFORDABLE = 25
# What is left after AFFORDABLE texts cannot buy one more.
BUDGET = AFFORDABLE * PRICE_PER_TEXT + PRICE_PER_TEXT - 1
REQUESTS = 4 * AFFORDABLE
# More in flight than the budget affords: the first wave already races across the boundary.
CONCURRENCY = 32
DEADLINE_SECONDS = 90.0


@dataclass(frozen=True)
class Outcome:
    replica: int  # which replica answered
    status: int
    cost: int  # usage.cost of a 200, else 0
    code: str  # error.code of a non-200, else ""


def provision_admin_token(token_file: Path) -> str:
    """What vendor-train does in compose: the entrypoint writes a fresh token file."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {"PATH": path, "VENDOR_ADMIN_TOKEN_FILE": str(token_file)}
    env["VENDOR_ADMIN_TOKEN_PROVISION"] = "1"
    subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, check=True, timeout=30)
    return token_file.read_text()


@pytest.fixture(scope="module", params=REDIS_KINDS)
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveVendor]]:
    """Started as the containers start them: through the entrypoint, token from the file; on
    one Redis server, then on a Redis Cluster."""
    single = request.param == "single"
    redis_url = str(request.getfixturevalue("redis_url" if single else "redis_cluster_url"))
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    run_dir = tmp_path_factory.mktemp("replicas")
    token_file = run_dir / "secrets" / "admin_token"
    token = provision_admin_token(token_file)
    overrides = {
        "VENDOR_ADMIN_TOKEN": "",
        "VENDOR_ADMIN_TOKEN_FILE": str(token_file),
        "VENDOR_PRICE_PER_TEXT": str(PRICE_PER_TEXT),
        # The race is about money, not rate limits: keep those far above the load.
        "VENDOR_RATE_LIMIT_REQUESTS": "100000/second",
        "VENDOR_RATE_LIMIT_ITEMS": "100000/second",
    }
    launcher = ("sh", str(ENTRYPOINT))
    try:
        with live_vendor_replicas(
            redis_url, prefix, run_dir, 2, overrides, launcher, token
        ) as running:
            yield running
    finally:
        delete_prefix(redis_url, prefix)


def model_id(vendor: LiveVendor) -> str:
    response = httpx.get(f"{vendor.base_url}/v1/models", timeout=10)
    response.raise_for_status()
    return str(response.json()["data"][0]["id"])


async def buy_one(
    client: httpx.AsyncClient, replicas: list[LiveVendor], index: int, model: str
) -> Outcome:
    replica = index % len(replicas)
    response = await client.post(
        f"{replicas[replica].base_url}/v1/embeddings",
        json={"model": model, "input": f"replica race text {index}"},
    )
    body = response.json()
    if response.status_code == 200:
        return Outcome(replica, 200, int(body["usage"]["cost"]), "")
    return Outcome(replica, response.status_code, 0, str(body["error"]["code"]))


async def race(replicas: list[LiveVendor], api_key: str, model: str) -> list[Outcome]:
    limit = asyncio.Semaphore(CONCURRENCY)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:

        async def bounded(index: int) -> Outcome:
            async with limit:
                return await buy_one(client, replicas, index, model)

        jobs = (bounded(index) for index in range(REQUESTS))
        return await asyncio.wait_for(asyncio.gather(*jobs), DEADLINE_SECONDS)


def usage(vendor: LiveVendor, api_key: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {api_key}"}
    response = httpx.get(f"{vendor.base_url}/v1/usage", headers=headers, timeout=10)
    response.raise_for_status()
    body = response.json()
    return {name: int(body[name]) for name in ("budget", "spent", "remaining")}


def test_the_images_health_probe_sees_every_replica_ready(replicas: list[LiveVendor]) -> None:
    for replica in replicas:
        probe = [sys.executable, str(PROBE), f"{replica.base_url}/readyz"]
        assert subprocess.run(probe, timeout=30, check=False).returncode == 0


def test_a_key_created_on_one_replica_is_known_to_the_other(
    replicas: list[LiveVendor],
) -> None:
    key_id, _ = replicas[0].create_key(budget=7, name="replica-visibility")
    info = replicas[1].key_info(key_id)
    assert (info["budget"], info["spent"], info["remaining"]) == (7, 0, 7)


def test_two_replicas_keep_one_exact_ledger(replicas: list[LiveVendor]) -> None:
    key_id, api_key = replicas[0].create_key(budget=BUDGET, name="replica-race")
    outcomes = asyncio.run(race(replicas, api_key, model_id(replicas[0])))

    statuses = Counter(outcome.status for outcome in outcomes)
    delivered = [outcome for outcome in outcomes if outcome.status == 200]
    refused = [outcome for outcome in outcomes if outcome.status != 200]
    assert set(statuses) <= {200, 402}, f"unexpected statuses {statuses}"
    assert len(delivered) == AFFORDABLE, f"{statuses}: exactly the affordable number succeed"
    assert {outcome.code for outcome in refused} == {"insufficient_budget"}
    assert {outcome.replica for outcome in delivered} == {0, 1}, "both replicas must sell"
    assert sum(outcome.cost for outcome in delivered) == AFFORDABLE * PRICE_PER_TEXT

    ledgers = [replica.key_info(key_id) for replica in replicas]
    for ledger in ledgers:
        assert ledger["budget"] == BUDGET
        assert ledger["spent"] == len(delivered) * PRICE_PER_TEXT
        assert ledger["budget"] == ledger["spent"] + ledger["remaining"]
        assert ledger["remaining"] == PRICE_PER_TEXT - 1
    # The caller's own view agrees on both replicas.
    views = [usage(replica, api_key) for replica in replicas]
    assert views[0] == views[1]
    assert views[0] == {key: ledgers[0][key] for key in ("budget", "spent", "remaining")}
