"""The vendor's one exception hierarchy; `api.errors` maps it to HTTP in one handler.

    VendorError(code, message, retry_after=None)
     ├── AuthError ............ 401/403  missing, invalid, revoked key; admin only
     ├── RequestRejected ...... 404/409/413/415/422  the request itself is wrong
     ├── BudgetError .......... 402  insufficient budget
     ├── RateLimited .......... 429  (Retry-After)
     ├── Unavailable .......... 503  not ready, overloaded, ledger down, inference failed,
     │                               reservation expired (Retry-After)
     └── CallerLeft ........... 499  the caller hung up before delivery (refunded)

Every instance carries a `shared.errors.ErrorCode`; its HTTP status comes from the shared
table, so the client and the vendor cannot disagree.
"""

from __future__ import annotations

from shared.errors import ErrorCode, status_of


class VendorError(Exception):
    """An error with a wire code, a message safe to show the caller, maybe a Retry-After."""

    def __init__(self, code: ErrorCode, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return status_of(self.code)


class AuthError(VendorError):
    pass


class RequestRejected(VendorError):
    pass


class BudgetError(VendorError):
    pass


class RateLimited(VendorError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message, retry_after)


class Unavailable(VendorError):
    def __init__(self, code: ErrorCode, message: str, retry_after: float = 1.0) -> None:
        super().__init__(code, message, retry_after)


class CallerLeft(VendorError):
    """The caller closed its connection before the embeddings could be delivered."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.CLIENT_CLOSED_REQUEST,
            "the connection closed before the embeddings were delivered; you were not charged",
        )
