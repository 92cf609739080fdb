"""The one place exceptions become HTTP responses, always `shared.errors.ErrorBody`.

- `VendorError` -> its code's status (+ Retry-After when it has one)
- request validation -> 422 invalid_request with a readable message
- 404 / 405 from routing -> not_found / method_not_allowed
- Redis unreachable (one server, or the cluster's node for the key, failing over) ->
  503 ledger_unavailable (+ Retry-After)
- anything else -> 500 with a generic message (details only in our log, never in the body)
"""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import headers as h
from shared.errors import ErrorBody, ErrorCode, status_of
from shared.redis_connection import OUTAGES
from vendor_service.errors import VendorError

log = logging.getLogger(__name__)


def error_response(
    code: ErrorCode, message: str, retry_after: float | None = None, status: int | None = None
) -> Response:
    body = ErrorBody.of(code, message).model_dump_json().encode()
    headers = {h.RETRY_AFTER: str(max(1, math.ceil(retry_after)))} if retry_after else None
    return Response(
        body, status_code=status or status_of(code), headers=headers, media_type="application/json"
    )


async def _vendor_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VendorError)
    return error_response(exc.code, exc.message, exc.retry_after)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(ErrorCode.INVALID_REQUEST, validation_message(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, VendorError):  # e.g. BodyLimit raising while FastAPI reads
        return await _vendor_error(request, exc.__cause__)
    if exc.status_code == 404:
        return error_response(ErrorCode.NOT_FOUND, f"no route {request.url.path}")
    if exc.status_code == 405:
        return error_response(
            ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}"
        )
    if exc.status_code == 400:  # FastAPI could not read the body (e.g. not UTF-8)
        return error_response(ErrorCode.INVALID_REQUEST, "the request body is not UTF-8 JSON")
    return error_response(ErrorCode.INVALID_REQUEST, "bad request", status=exc.status_code)


async def _redis_down(request: Request, exc: Exception) -> Response:
    log.warning("ledger unavailable: %s", type(exc).__name__)
    return error_response(
        ErrorCode.LEDGER_UNAVAILABLE, "the ledger is unavailable; retry shortly", retry_after=1
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
    return error_response(ErrorCode.INTERNAL_ERROR, "internal error; you were not charged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VendorError, _vendor_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for outage in OUTAGES:
        app.add_exception_handler(outage, _redis_down)
    app.add_exception_handler(Exception, _unexpected)


def validation_message(exc: RequestValidationError) -> str:
    """A readable sentence for pydantic's errors (no echo of large inputs)."""
    if _has_token_ids(getattr(exc, "body", None)):
        return "token-id inputs (lists of integers) are not supported; send strings"
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _has_token_ids(body: Any) -> bool:
    if isinstance(body, bytes | str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
    if not isinstance(body, dict):
        return False
    value = body.get("input")
    if isinstance(value, list) and value:
        first = value[0]
        return isinstance(first, int) or (isinstance(first, list) and bool(first))
    return False
