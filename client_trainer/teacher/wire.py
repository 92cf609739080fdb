"""Request bodies and response parsing of `POST /v1/embeddings` (the client's half)."""

from __future__ import annotations

import hashlib

import httpx
import numpy as np
import orjson
from pydantic import ValidationError

from client_trainer.teacher.errors import (
    TeacherHTTPError,
    TeacherProtocolError,
    TeacherRetryable,
)
from client_trainer.teacher.retry import parse_retry_after
from shared.codec import embedding_from_base64
from shared.errors import RETRYABLE_CODES, ErrorBody, ErrorCode
from shared.headers import IDEMPOTENT_REPLAYED, RETRY_AFTER
from shared.schemas import EncodingFormat, Modality

_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


def is_replay(response: httpx.Response) -> bool:
    return response.headers.get(IDEMPOTENT_REPLAYED, "").lower() == "true"


def idempotency_key(model_id: str, modality: Modality, content_keys: list[str]) -> str:
    """Deterministic from the batch's content: a restarted run that resends a batch the vendor
    already committed gets the stored response back, free of charge."""
    digest = hashlib.sha256(f"embed-v1\n{model_id}\n{modality.value}\n".encode())
    for key in content_keys:
        digest.update(key.encode() + b"\n")
    return f"ct-{digest.hexdigest()}"


def request_body(model_id: str, modality: Modality, payloads: list[str]) -> dict[str, object]:
    return {
        "model": model_id,
        "input": payloads,
        "modality": modality.value,
        "encoding_format": EncodingFormat.BASE64.value,
    }


def raise_for_error(response: httpx.Response) -> None:
    """Map a non-2xx answer to a typed error through the shared error table."""
    if response.is_success:
        return
    retry_after = parse_retry_after(response.headers.get(RETRY_AFTER))
    try:
        detail = ErrorBody.model_validate_json(response.content).error
        code, message = detail.code, detail.message
    except ValidationError:
        code, message = None, response.text[:200]
    if (code is not None and code in RETRYABLE_CODES) or (
        code is None and response.status_code in _TRANSIENT_STATUSES
    ):
        raise TeacherRetryable(response.status_code, str(code), message, retry_after)
    raise TeacherHTTPError(response.status_code, str(code or "unknown"), message)


def parse_embeddings(response: httpx.Response, expected: int) -> tuple[np.ndarray, int, int]:
    """(embeddings (n, d) float32, cost, budget_remaining) of a 200 answer."""
    try:
        body = orjson.loads(response.content)
        rows = sorted(body["data"], key=lambda row: row["index"])
        vectors = [
            embedding_from_base64(r["embedding"])
            if isinstance(r["embedding"], str)
            else np.asarray(r["embedding"], dtype=np.float32)
            for r in rows
        ]
        usage = body["usage"]
        cost, remaining = int(usage["cost"]), int(usage["budget_remaining"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise TeacherProtocolError(f"malformed embeddings response: {exc}") from exc
    if len(vectors) != expected or [r["index"] for r in rows] != list(range(expected)):
        raise TeacherProtocolError(f"asked for {expected} embeddings, got {len(vectors)}")
    return np.stack(vectors).astype(np.float32), cost, remaining


def is_payment_required(exc: TeacherHTTPError) -> bool:
    return exc.status == 402 or exc.code == ErrorCode.INSUFFICIENT_BUDGET.value


# A request the vendor refused for its size as a whole: its halves may each pass.
_SPLITTABLE = frozenset({ErrorCode.BODY_TOO_LARGE.value, ErrorCode.TOO_MANY_INPUTS.value})


def is_request_too_big(exc: TeacherHTTPError) -> bool:
    return exc.code in _SPLITTABLE
