"""Security of the live vendor: key isolation, revocation, admin-only routes, hashed storage.

Every check crosses the real wire to a real process; ledgers are read straight from Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis

from shared.errors import ErrorCode
from tests.reliability.conftest import Key
from tests.reliability.ledger_audit import PRICE_PER_IMAGE, PRICE_PER_TEXT, read_key
from tests.reliability.payloads import b64, png_bytes
from tests.reliability.vendor_process import VendorProcess
from tests.support.errors import assert_wire_error
from tests.support.live_vendor import ADMIN_TOKEN


@pytest.fixture
def client(shared_vendor: VendorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_vendor.base_url, timeout=30) as http:
        yield http


def _embed(
    client: httpx.Client, token: str, model_id: str, text: str, **headers: str
) -> httpx.Response:
    return client.post(
        "/v1/embeddings",
        json={"model": model_id, "input": [text]},
        headers={"Authorization": f"Bearer {token}", **headers},
    )


def _secret(key: Key) -> str:
    return key.api_key.split("-", 2)[2]


def test_a_key_cannot_read_or_spend_another_keys_budget(
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
    ledger_redis: redis.Redis,
) -> None:
    rich, poor = new_key(10_000, "rich"), new_key(0, "poor")
    prefix = shared_vendor.prefix
    rich_before = read_key(ledger_redis, prefix, rich.key_id)

    # Usage shows the caller's own account, whatever else the request says.
    usage = client.get(f"/v1/usage?key_id={rich.key_id}", headers=poor.headers).json()
    assert (usage["key_id"], usage["budget"]) == (poor.key_id, 0)
    # The admin view of another key is closed to an API key.
    assert_wire_error(
        client.get(f"/v1/admin/keys/{rich.key_id}", headers=poor.headers), ErrorCode.ADMIN_ONLY
    )
    # A token naming the rich key's id with the poor key's secret is not the rich key.
    forged = f"vk-{rich.key_id}-{_secret(poor)}"
    assert_wire_error(_embed(client, forged, model_id, "free?"), ErrorCode.INVALID_API_KEY)
    # The poor key cannot spend: 402, and nothing moves anywhere.
    assert_wire_error(
        _embed(client, poor.api_key, model_id, "free?"), ErrorCode.INSUFFICIENT_BUDGET
    )

    # An Idempotency-Key is the caller's own: reusing the rich key's one replays nothing.
    paid = _embed(client, rich.api_key, model_id, "bought", **{"Idempotency-Key": "shared-idem"})
    assert paid.status_code == 200
    stolen = _embed(client, poor.api_key, model_id, "bought", **{"Idempotency-Key": "shared-idem"})
    assert_wire_error(stolen, ErrorCode.INSUFFICIENT_BUDGET)

    poor_after = read_key(ledger_redis, prefix, poor.key_id)
    assert (poor_after.spent, poor_after.reserved, poor_after.requests) == (0, 0, 0)
    rich_after = read_key(ledger_redis, prefix, rich.key_id)
    assert rich_after.spent == rich_before.spent + PRICE_PER_TEXT
    assert rich_after.requests == rich_before.requests + 1


def test_a_revoked_key_is_refused_at_once(
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
) -> None:
    key = new_key(1000)
    assert _embed(client, key.api_key, model_id, "before").status_code == 200
    with shared_vendor.admin() as admin:
        assert admin.delete(f"/v1/admin/keys/{key.key_id}").status_code == 200
    # No grace period, no cache: the very next calls are refused, paid routes and free ones.
    assert_wire_error(_embed(client, key.api_key, model_id, "after"), ErrorCode.REVOKED_API_KEY)
    assert_wire_error(client.get("/v1/usage", headers=key.headers), ErrorCode.REVOKED_API_KEY)
    replay = _embed(client, key.api_key, model_id, "before", **{"Idempotency-Key": "x"})
    assert_wire_error(replay, ErrorCode.REVOKED_API_KEY)
    with shared_vendor.admin() as admin:
        info = admin.get(f"/v1/admin/keys/{key.key_id}").json()
    assert (info["revoked"], info["spent"]) == (True, PRICE_PER_TEXT)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_an_unfunded_key_cannot_make_the_vendor_decode_for_free(
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
) -> None:
    """16 valid 4096x4096 PNGs (60 kB each, ~0.2 s of CPU each to decode) from a key that
    cannot pay for one: the 402 must come before the work, or any key with no budget can
    burn the vendor's CPU at the rate limit, for free."""
    assert shared_vendor.process is not None
    broke = new_key(0, "broke")
    big = b64(png_bytes(4096, 4096))
    body = {"model": model_id, "input": [big] * 16, "modality": "image"}
    used = _cpu_seconds(shared_vendor.process.pid)
    refused = client.post("/v1/embeddings", json=body, headers=broke.headers)
    used = _cpu_seconds(shared_vendor.process.pid) - used
    assert_wire_error(refused, ErrorCode.INSUFFICIENT_BUDGET)
    assert used < 0.5, f"the vendor spent {used:.2f} s of CPU on a request nobody pays for"

    # A drained key still gets its paid-for replay (nothing new to pay for).
    one = new_key(PRICE_PER_IMAGE, "one-image")
    small = {"model": model_id, "input": [b64(png_bytes(8, 8))], "modality": "image"}
    idem = {**one.headers, "Idempotency-Key": "paid-once"}
    first = client.post("/v1/embeddings", json=small, headers=idem)
    assert first.status_code == 200, first.text
    replay = client.post("/v1/embeddings", json=small, headers=idem)
    assert (replay.status_code, replay.content) == (200, first.content)
    assert_wire_error(
        client.post("/v1/embeddings", json=small, headers=one.headers),
        ErrorCode.INSUFFICIENT_BUDGET,
    )


@pytest.fixture
def strict_vendor(redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[VendorProcess]:
    """A vendor allowing one request per minute per key."""
    process = VendorProcess(
        redis_url, redis_prefix, tmp_path, {"VENDOR_RATE_LIMIT_REQUESTS": "1/minute"}
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


async def test_rate_limited_requests_are_not_decoded_behind_the_429(
    strict_vendor: VendorProcess,
) -> None:
    """The 429 must also stop the work: rate limits exist to protect the vendor's CPU."""
    assert strict_vendor.process is not None
    _, api_key = strict_vendor.create_key(10**6, "rate-limited")
    model_id = strict_vendor.model_id()
    headers = {"Authorization": f"Bearer {api_key}"}
    big = b64(png_bytes(4096, 4096))
    body = {"model": model_id, "input": [big] * 16, "modality": "image"}
    small = {"model": model_id, "input": [b64(png_bytes(8, 8))], "modality": "image"}
    async with httpx.AsyncClient(base_url=strict_vendor.base_url, timeout=60) as http:
        assert (await http.post("/v1/embeddings", json=small, headers=headers)).is_success
        used = _cpu_seconds(strict_vendor.process.pid)
        refused = await asyncio.gather(
            *(http.post("/v1/embeddings", json=body, headers=headers) for _ in range(4))
        )
        await asyncio.sleep(3)  # decoding left running behind a 429 would show up here
    used = _cpu_seconds(strict_vendor.process.pid) - used
    for response in refused:
        assert_wire_error(response, ErrorCode.RATE_LIMITED)
        assert int(response.headers["Retry-After"]) >= 1
    assert used < 1.5, f"the vendor spent {used:.2f} s of CPU behind four 429s"


def _admin_calls(key_id: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("POST", "/v1/admin/keys", {"name": "x", "budget": 10**9}),
        ("GET", f"/v1/admin/keys/{key_id}", None),
        ("POST", f"/v1/admin/keys/{key_id}/topup", {"amount": 10**9}),
        ("DELETE", f"/v1/admin/keys/{key_id}", None),
    ]


def test_every_admin_route_refuses_api_keys_and_anonymous_callers(
    client: httpx.Client,
    new_key: Callable[..., Key],
    shared_vendor: VendorProcess,
    ledger_redis: redis.Redis,
) -> None:
    key = new_key(100)
    schema = client.get("/openapi.json").json()
    admin_paths = {p for p in schema["paths"] if p.startswith("/v1/admin")}
    calls = _admin_calls(key.key_id)
    assert {path.replace(key.key_id, "{key_id}") for _, path, _ in calls} == admin_paths
    refusals = [
        (key.headers, ErrorCode.ADMIN_ONLY),  # a valid API key is not an admin
        ({}, ErrorCode.MISSING_API_KEY),
        ({"Authorization": "Bearer"}, ErrorCode.MISSING_API_KEY),
        ({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, ErrorCode.INVALID_API_KEY),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, ErrorCode.INVALID_API_KEY),
        ({"Authorization": f"Basic {ADMIN_TOKEN}"}, ErrorCode.MISSING_API_KEY),
    ]
    before = read_key(ledger_redis, shared_vendor.prefix, key.key_id)
    for method, path, body in calls:
        for headers, code in refusals:
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == (403 if code is ErrorCode.ADMIN_ONLY else 401)
            assert_wire_error(response, code)
    assert read_key(ledger_redis, shared_vendor.prefix, key.key_id) == before
    # ...and the admin token is not an API key either.
    admin_as_key = client.get("/v1/usage", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert_wire_error(admin_as_key, ErrorCode.INVALID_API_KEY)


def _stored_values(client: redis.Redis, prefix: str) -> Iterator[bytes]:
    """Every name and value under `prefix`, whatever the Redis type."""
    # redis-py types replies as bytes | str; this client does not decode, so they are bytes.
    for name in client.scan_iter(match=f"{prefix}*", count=1000):
        yield name
        kind = client.type(name)
        if kind == b"hash":
            for field, value in cast("dict[bytes, bytes]", client.hgetall(name)).items():
                yield field
                yield value
        elif kind == b"string":
            yield cast("bytes | None", client.get(name)) or b""
        elif kind == b"zset":
            yield from cast("list[bytes]", client.zrange(name, 0, -1))
        elif kind == b"list":
            yield from cast("list[bytes]", client.lrange(name, 0, -1))
        elif kind == b"set":
            yield from cast("set[bytes]", client.smembers(name))


def test_keys_are_stored_hashed(
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
    ledger_redis: redis.Redis,
) -> None:
    keys = [new_key(1000, f"hashed-{i}") for i in range(3)]
    for key in keys:  # use them, so every record a key can leave behind exists
        assert _embed(client, key.api_key, model_id, "x", **{"Idempotency-Key": "i"}).is_success
    values = list(_stored_values(ledger_redis, shared_vendor.prefix))
    assert len(values) > 10
    for key in keys:
        secret = _secret(key).encode()
        needles = [secret, key.api_key.encode(), hashlib.sha256(secret).hexdigest().encode()]
        for value in values:
            assert not any(needle in value for needle in needles), value[:80]
    assert not any(ADMIN_TOKEN.encode() in value for value in values)


def test_secrets_never_appear_in_logs(
    client: httpx.Client,
    new_key: Callable[..., Key],
    model_id: str,
    shared_vendor: VendorProcess,
) -> None:
    """Successful, failing and malformed calls with secrets everywhere, then grep every log line."""
    key, other = new_key(1000), new_key(0)
    forged = f"vk-{key.key_id}-{_secret(other)}"
    calls: list[tuple[str, str, dict[str, str], object]] = [
        ("POST", "/v1/embeddings", key.headers, {"model": model_id, "input": ["ok"]}),
        ("POST", "/v1/embeddings", {"Authorization": f"Bearer {forged}"}, {"input": 1}),
        ("POST", "/v1/embeddings", {"Authorization": key.api_key}, {}),  # no "Bearer"
        ("POST", "/v1/embeddings", other.headers, {"model": model_id, "input": ["402"]}),
        ("POST", "/v1/embeddings", key.headers, {"model": model_id, "input": [key.api_key]}),
        ("GET", f"/v1/admin/keys/{key.key_id}", key.headers, None),
        ("GET", "/v1/usage", {"Authorization": f"Bearer {ADMIN_TOKEN}"}, None),
        ("GET", f"/v1/admin/keys/{key.api_key}", {"Authorization": f"Bearer {ADMIN_TOKEN}"}, None),
        ("GET", f"/nowhere/{_secret(key)}", key.headers, None),
        ("POST", "/v1/embeddings", {**key.headers, "Idempotency-Key": key.api_key}, "{bad json"),
    ]
    for method, path, headers, body in calls:
        if isinstance(body, str):
            response = client.request(method, path, content=body, headers=headers)
        else:
            response = client.request(method, path, json=body, headers=headers)
        assert response.status_code < 500, (path, response.text)
    with shared_vendor.admin() as admin:  # the admin route itself, and a wrong admin token
        admin.get(f"/v1/admin/keys/{key.key_id}").raise_for_status()
    client.get("/v1/admin/keys/x", headers={"Authorization": f"Bearer {ADMIN_TOKEN[:-2]}zz"})

    logs = shared_vendor.logs()
    assert "DEBUG" in logs or "INFO" in logs  # the log is really being read
    for secret in (_secret(key), _secret(other), ADMIN_TOKEN, ADMIN_TOKEN[:-2]):
        assert secret not in logs
