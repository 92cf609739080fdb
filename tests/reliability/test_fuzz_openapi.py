"""schemathesis against the live vendor's own OpenAPI schema, a bounded number of cases.

For every operation, positive (schema-valid) and negative (schema-breaking) cases are sent
with a real API key; on `POST /v1/embeddings` some cases also carry the real model id, so the
fuzz reaches decoding, pricing and the ledger instead of stopping at model_not_found. Admin
routes are fuzzed again with the admin token. Every response must be < 500; every error must
have the one error shape with its table status; a rejected call must charge nothing and leave
nothing reserved; a delivered call must charge exactly its `usage.cost`.

The default run is bounded (`FUZZ_EXAMPLES` cases per operation and mode, fixed seed); the
slow variant sends ten times as many, randomly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from shared.errors import ERROR_TABLE, ErrorCode
from tests.reliability.conftest import Key
from tests.reliability.ledger_audit import read_key
from tests.reliability.vendor_process import VendorProcess
from tests.support.live_vendor import ADMIN_TOKEN

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _with_real_model(case: Any, model_id: str) -> Any:
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = model_id
    return case


def _header(response: Any, name: str) -> str | None:
    """A header of a schemathesis response (its headers map names to lists of values)."""
    for key, values in response.headers.items():
        if key.lower() == name.lower():
            return str(values[0]) if isinstance(values, list) else str(values)
    return None


def _assert_error_shape(response: Any, label: str) -> None:
    body = response.json()
    code = ErrorCode(body["error"]["code"])
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}, label
    assert response.status_code == ERROR_TABLE[code][0], (label, response.status_code, code)


def _fuzz(
    vendor: VendorProcess,
    key: Key,
    model_id: str,
    ledger: redis.Redis,
    headers: dict[str, str],
    examples: int,
    derandomize: bool,
    admin_only: bool = False,
) -> dict[int, int]:
    """Runs the cases; returns how many responses came back per status."""
    raw = httpx.get(f"{vendor.base_url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(raw)
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if admin_only and not operation.path.startswith("/v1/admin"):
            continue
        for mode in MODES:
            strategy = operation.as_strategy(generation_mode=mode)
            if operation.path == "/v1/embeddings":
                real = strategy.map(lambda case: _with_real_model(case, model_id))
                strategy = st.one_of(strategy, real)

            @given(case=strategy)
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=derandomize,
                suppress_health_check=list(HealthCheck),
            )
            def send(case: Any) -> None:
                before = read_key(ledger, vendor.prefix, key.key_id)
                response = case.call(base_url=vendor.base_url, headers=headers, timeout=30)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                curl = case.as_curl_command()[:600]
                label = f"{response.status_code} {response.text[:200]} <- {curl}"
                assert response.status_code < 500, (label, response.text[:300])
                after = read_key(ledger, vendor.prefix, key.key_id)
                assert after.reserved == 0, label
                if response.status_code >= 400:
                    _assert_error_shape(response, label)
                    assert after == before, label  # rejected: nothing charged, nothing counted
                elif case.path == "/v1/embeddings":
                    # A replay (same Idempotency-Key and body) shows the original cost, free.
                    replayed = _header(response, "Idempotent-Replayed") == "true"
                    cost = 0 if replayed else response.json()["usage"]["cost"]
                    assert after.spent == before.spent + cost, label

            with contextlib.suppress(Unsatisfiable):  # e.g. no way to break a parameterless GET
                send()
    return statuses


@pytest.mark.parametrize(
    ("examples", "derandomize"),
    [(FUZZ_EXAMPLES, True), pytest.param(10 * FUZZ_EXAMPLES, False, marks=pytest.mark.slow)],
    ids=["bounded", "long"],
)
def test_fuzzed_requests_never_5xx_and_rejections_charge_nothing(
    examples: int,
    derandomize: bool,
    shared_vendor: VendorProcess,
    new_key: Callable[..., Key],
    model_id: str,
    ledger_redis: redis.Redis,
) -> None:
    key = new_key(10**9, "fuzz")
    as_key = _fuzz(shared_vendor, key, model_id, ledger_redis, key.headers, examples, derandomize)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    as_admin = _fuzz(
        shared_vendor, key, model_id, ledger_redis, admin, examples, derandomize, admin_only=True
    )
    print(f"fuzz statuses as API key {sorted(as_key.items())}, as admin {sorted(as_admin.items())}")
    assert sum(as_key.values()) >= examples  # the fuzz really ran
    assert any(400 <= status < 500 for status in as_key)
    assert 200 in as_key  # some fuzzed embeddings were sold, so charging was checked too
