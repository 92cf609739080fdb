"""What a well-behaved client does, in a few lines: retry with the same Idempotency-Key.

Retried: connection errors (the vendor died or is restarting) and every code the wire
contract marks retryable (`shared.errors.RETRYABLE_CODES`), honouring Retry-After (capped,
to keep tests short). Anything else ends the attempt and is returned to the test.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.errors import RETRYABLE_CODES


@dataclass
class Outcome:
    """How one logical request ended, and what happened on the way."""

    status: int | None = None  # final HTTP status; None when the deadline passed first
    body: bytes = b""
    replayed: bool = False
    attempts: int = 0
    transport_errors: int = 0
    retried_codes: list[str] = field(default_factory=list)


def _retryable(response: httpx.Response) -> bool:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    return code in {c.value for c in RETRYABLE_CODES}


def _retry_after(response: httpx.Response, cap: float) -> float:
    try:
        return min(cap, float(response.headers.get("Retry-After", "0.2")))
    except ValueError:
        return cap


async def post_until_done(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    headers: dict[str, str],
    deadline: float,
    retry_cap: float = 1.0,
) -> Outcome:
    """POST /v1/embeddings again and again (same headers, same body) until it is not retryable."""
    outcome = Outcome()
    while time.monotonic() < deadline:
        outcome.attempts += 1
        try:
            response = await client.post("/v1/embeddings", json=body, headers=headers)
        except httpx.TransportError:
            outcome.transport_errors += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code != 200 and _retryable(response):
            outcome.retried_codes.append(response.json()["error"]["code"])
            await asyncio.sleep(_retry_after(response, retry_cap))
            continue
        outcome.status, outcome.body = response.status_code, response.content
        outcome.replayed = response.headers.get("Idempotent-Replayed") == "true"
        return outcome
    return outcome
