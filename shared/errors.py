"""Error codes of the wire contract, and the one shape every error takes.

Both sides import this: the vendor maps its exceptions to these codes in one handler, the
client maps a response back to a typed reason (retry, stop, or fix the request).

    {"error": {"message": "...", "type": "invalid_request_error", "code": "invalid_image"}}
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class ErrorType(StrEnum):
    """Coarse family of an error, OpenAI-style (`type` in the error body)."""

    INVALID_REQUEST = "invalid_request_error"
    AUTHENTICATION = "authentication_error"
    PERMISSION = "permission_error"
    BILLING = "billing_error"
    CONFLICT = "conflict_error"
    RATE_LIMIT = "rate_limit_error"
    UNAVAILABLE = "service_unavailable_error"
    SERVER = "server_error"


class ErrorCode(StrEnum):
    """Precise reason of an error (`code` in the error body); each has one HTTP status."""

    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    REVOKED_API_KEY = "revoked_api_key"
    ADMIN_ONLY = "admin_only"
    INSUFFICIENT_BUDGET = "insufficient_budget"
    NOT_FOUND = "not_found"
    MODEL_NOT_FOUND = "model_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    TOO_MANY_INPUTS = "too_many_inputs"
    BODY_TOO_LARGE = "body_too_large"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_DIMENSIONS_TOO_LARGE = "image_dimensions_too_large"
    TEXT_TOO_LONG = "text_too_long"
    UNSUPPORTED_IMAGE_FORMAT = "unsupported_image_format"
    INVALID_REQUEST = "invalid_request"
    INVALID_BASE64 = "invalid_base64"
    INVALID_IMAGE = "invalid_image"
    EMPTY_INPUT = "empty_input"
    RATE_LIMITED = "rate_limited"
    NOT_READY = "not_ready"
    OVERLOADED = "overloaded"
    LEDGER_UNAVAILABLE = "ledger_unavailable"
    INFERENCE_FAILED = "inference_failed"
    RESERVATION_EXPIRED = "reservation_expired"
    CLIENT_CLOSED_REQUEST = "client_closed_request"
    INTERNAL_ERROR = "internal_error"


# code -> (HTTP status, type). The one table both sides agree on.
ERROR_TABLE: dict[ErrorCode, tuple[int, ErrorType]] = {
    ErrorCode.MISSING_API_KEY: (401, ErrorType.AUTHENTICATION),
    ErrorCode.INVALID_API_KEY: (401, ErrorType.AUTHENTICATION),
    ErrorCode.REVOKED_API_KEY: (401, ErrorType.AUTHENTICATION),
    ErrorCode.ADMIN_ONLY: (403, ErrorType.PERMISSION),
    ErrorCode.INSUFFICIENT_BUDGET: (402, ErrorType.BILLING),
    ErrorCode.NOT_FOUND: (404, ErrorType.INVALID_REQUEST),
    ErrorCode.MODEL_NOT_FOUND: (404, ErrorType.INVALID_REQUEST),
    ErrorCode.METHOD_NOT_ALLOWED: (405, ErrorType.INVALID_REQUEST),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (409, ErrorType.CONFLICT),
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: (409, ErrorType.CONFLICT),
    ErrorCode.TOO_MANY_INPUTS: (413, ErrorType.INVALID_REQUEST),
    ErrorCode.BODY_TOO_LARGE: (413, ErrorType.INVALID_REQUEST),
    ErrorCode.IMAGE_TOO_LARGE: (413, ErrorType.INVALID_REQUEST),
    ErrorCode.IMAGE_DIMENSIONS_TOO_LARGE: (413, ErrorType.INVALID_REQUEST),
    ErrorCode.TEXT_TOO_LONG: (413, ErrorType.INVALID_REQUEST),
    ErrorCode.UNSUPPORTED_IMAGE_FORMAT: (415, ErrorType.INVALID_REQUEST),
    ErrorCode.INVALID_REQUEST: (422, ErrorType.INVALID_REQUEST),
    ErrorCode.INVALID_BASE64: (422, ErrorType.INVALID_REQUEST),
    ErrorCode.INVALID_IMAGE: (422, ErrorType.INVALID_REQUEST),
    ErrorCode.EMPTY_INPUT: (422, ErrorType.INVALID_REQUEST),
    ErrorCode.RATE_LIMITED: (429, ErrorType.RATE_LIMIT),
    ErrorCode.NOT_READY: (503, ErrorType.UNAVAILABLE),
    ErrorCode.OVERLOADED: (503, ErrorType.UNAVAILABLE),
    ErrorCode.LEDGER_UNAVAILABLE: (503, ErrorType.UNAVAILABLE),
    ErrorCode.INFERENCE_FAILED: (503, ErrorType.UNAVAILABLE),
    ErrorCode.RESERVATION_EXPIRED: (503, ErrorType.UNAVAILABLE),
    # The caller hung up before its embeddings could be delivered; refunded. Nobody reads this
    # answer (499, as nginx logs it): it is there for the vendor's metrics and logs.
    ErrorCode.CLIENT_CLOSED_REQUEST: (499, ErrorType.INVALID_REQUEST),
    # A bug of ours: a generic message (details only in the vendor's log), nothing charged.
    ErrorCode.INTERNAL_ERROR: (500, ErrorType.SERVER),
}

# Codes a client may retry with the same Idempotency-Key (honouring Retry-After).
RETRYABLE_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.NOT_READY,
        ErrorCode.OVERLOADED,
        ErrorCode.LEDGER_UNAVAILABLE,
        ErrorCode.INFERENCE_FAILED,
        ErrorCode.RESERVATION_EXPIRED,
        ErrorCode.CLIENT_CLOSED_REQUEST,
        ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
    }
)


def status_of(code: ErrorCode) -> int:
    """HTTP status that carries `code`."""
    return ERROR_TABLE[code][0]


class ErrorDetail(BaseModel):
    message: str
    type: ErrorType
    code: ErrorCode


class ErrorBody(BaseModel):
    """The only shape an error response has."""

    error: ErrorDetail

    @classmethod
    def of(cls, code: ErrorCode, message: str) -> ErrorBody:
        return cls(error=ErrorDetail(message=message, type=ERROR_TABLE[code][1], code=code))
