"""Assertions on the vendor's error responses, shared by the vendor and reliability tests."""

from __future__ import annotations

import httpx

from shared.errors import ERROR_TABLE, ErrorBody, ErrorCode


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """`status`, an ErrorBody with `code`, and no traceback in its message."""
    assert response.status_code == status, response.text
    body = ErrorBody.model_validate_json(response.content)
    assert body.error.code == code
    assert "Traceback" not in body.error.message


def assert_wire_error(response: httpx.Response, code: ErrorCode) -> None:
    """The status of `code` in the shared table, and exactly the one error shape."""
    status, kind = ERROR_TABLE[code]
    body = response.json()
    message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    assert (response.status_code, body) == (
        status,
        {"error": {"message": message, "type": kind, "code": code}},
    ), response.text[:300]
    assert isinstance(message, str) and 0 < len(message) < 500  # never echoes a huge input
