"""No route returns parameters, gradients, logits or anything but the embeddings sold.

Walks every path and method of the live OpenAPI schema (plus the routes kept out of it and a
few an attacker would guess), as an API key, as the admin and anonymously, and checks each
response: bounded size, no weight-like names, and float arrays only where embeddings are sold,
each exactly one embedding long.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import Key
from tests.reliability.vendor_process import VendorProcess
from tests.support.live_vendor import ADMIN_TOKEN

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
EXTRA_PATHS = ["/metrics", "/docs", "/openapi.json", "/redoc", "/healthz", "/readyz"]
GUESSED_PATHS = [
    "/v1/model/weights",
    "/v1/models/{model}",
    "/v1/models/{model}/state_dict",
    "/v1/gradients",
    "/state_dict",
    "/checkpoint.pt",
    "/v1/admin/model",
    "/v1/embeddings/logits",
]
FORBIDDEN_NAMES = re.compile(
    r"state_dict|weight|\bbias\b|gradient|\bgrad\b|logit|checkpoint|parameters\"|tensor|"
    r"visual\.|transformer\.|token_embedding|positional_embedding|ln_final|proj\b",
    re.IGNORECASE,
)
MAX_BODY = 64 * 1024  # the tiny model alone is several hundred kB of float32


def _path(template: str, key_id: str, model_id: str) -> str:
    return template.replace("{key_id}", key_id).replace("{model}", model_id)


def _float_lists(value: Any, where: str = "") -> Iterator[tuple[str, list[Any]]]:
    """Every list holding a float, with its dotted location."""
    if isinstance(value, dict):
        for name, child in value.items():
            yield from _float_lists(child, f"{where}.{name}")
    elif isinstance(value, list):
        if any(isinstance(item, float) for item in value):
            yield where, value
        for item in value:
            yield from _float_lists(item, f"{where}[]")


def _names(value: Any) -> Iterator[str]:
    """Every object key, at any depth."""
    if isinstance(value, dict):
        for name, child in value.items():
            yield str(name)
            yield from _names(child)
    elif isinstance(value, list):
        for item in value:
            yield from _names(item)


def _check(response: httpx.Response, embedding_dim: int, what: str) -> None:
    assert response.status_code < 500, (what, response.text[:300])
    assert len(response.content) <= MAX_BODY, (what, len(response.content))
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        for where, floats in _float_lists(body):
            assert where == ".data[].embedding" and len(floats) == embedding_dim, (what, where)
        bad = [name for name in _names(body) if FORBIDDEN_NAMES.search(name)]
        assert not bad, (what, bad)
    elif "/metrics" in what and response.status_code == 200:
        # Prometheus text: counters and histograms of the service, never model values.
        lines = [line for line in response.text.splitlines() if line[:1] != "#"]
        names = {line.split("{")[0].split(" ")[0] for line in lines}
        assert not any(FORBIDDEN_NAMES.search(name) for name in names), names


@pytest.fixture
def callers(new_key: Callable[..., Key]) -> dict[str, dict[str, str]]:
    key = new_key(10_000)
    return {
        "api-key": key.headers,
        "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "anonymous": {},
        "key_id": {"x": key.key_id},  # carried along for path templates
    }


def test_no_route_returns_weights_gradients_or_logits(
    shared_vendor: VendorProcess, model_id: str, callers: dict[str, dict[str, str]]
) -> None:
    key_id = callers.pop("key_id")["x"]
    with httpx.Client(base_url=shared_vendor.base_url, timeout=30) as client:
        schema = client.get("/openapi.json").json()
        embedding_dim = client.get("/v1/models").json()["data"][0]["embedding_dim"]
        paths = [*schema["paths"], *EXTRA_PATHS, *GUESSED_PATHS]
        bodies: dict[str, Any] = {
            "/v1/embeddings": {"model": model_id, "input": ["a", "b"]},
            "/v1/admin/keys": {"name": "walk", "budget": 1},
            "/v1/admin/keys/{key_id}/topup": {"amount": 1},
        }
        calls = 0
        for template in paths:
            for method in METHODS:
                for who, headers in callers.items():
                    if method == "DELETE" and who == "admin":
                        continue  # revoking our own key would end the walk early
                    path = _path(template, key_id, model_id)
                    response = client.request(
                        method, path, json=bodies.get(template), headers=headers
                    )
                    _check(response, embedding_dim, f"{who} {method} {path}")
                    calls += 1
        sold = client.post(
            "/v1/embeddings", json=bodies["/v1/embeddings"], headers=callers["api-key"]
        )
    # The walk's float detector does see the embeddings it allows.
    assert [len(f) for _, f in _float_lists(sold.json())] == [embedding_dim, embedding_dim]
    assert calls >= len(paths) * len(METHODS) * 2
    # The schema offers no route or field that names model internals.
    schema_text = str(schema)
    for word in ("state_dict", "gradient", "logit", "checkpoint", "weights"):
        assert word not in schema_text.lower(), word
