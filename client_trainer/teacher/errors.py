"""Why a purchase from the teacher failed.

TeacherError
├── TeacherHTTPError          a non-2xx answer: status, code (shared.errors), message
│   └── TeacherRetryable      429 / 503 / 409 in-progress (Retry-After in seconds)
├── TeacherProtocolError      a 2xx answer that breaks the contract
└── BudgetExhausted           402: the vendor account cannot pay for the rest
"""

from __future__ import annotations


class TeacherError(Exception):
    """Base of every teacher failure."""


class TeacherHTTPError(TeacherError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"vendor answered {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class TeacherRetryable(TeacherHTTPError):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class TeacherUnavailable(TeacherError):
    """The vendor could not be reached (or never answered) within the allowed attempts."""


class TeacherProtocolError(TeacherError):
    """The vendor's 2xx body is not what the contract promises."""


class BudgetExhausted(TeacherError):
    """The vendor refused with 402: says what was bought and what is still missing."""

    def __init__(
        self, modality: str, bought: int, missing: int, price: int, remaining: int | None
    ) -> None:
        left = "unknown" if remaining is None else str(remaining)
        super().__init__(
            f"vendor budget exhausted: bought {bought} {modality} embeddings in this call;"
            f" {missing} still missing, which would cost {missing * price} credits"
            f" ({price} each); the key has {left} credits left"
        )
        self.modality, self.bought, self.missing = modality, bought, missing
        self.price, self.remaining = price, remaining
