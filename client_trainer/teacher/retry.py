"""Retry policy of one vendor request (tenacity): which failures, how long to wait."""

from __future__ import annotations

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from client_trainer.teacher.errors import TeacherRetryable


def is_retryable(exc: BaseException) -> bool:
    """429, 503, 409 in-progress, and connection-level failures (the request may or may not
    have reached the vendor: the same Idempotency-Key makes resending it safe)."""
    return isinstance(exc, TeacherRetryable | httpx.TransportError)


class WaitRetryAfter(wait_base):
    """The vendor's Retry-After when it gave one, else exponential backoff with jitter."""

    def __init__(self, fallback: wait_base, cap_s: float) -> None:
        self._fallback, self._cap = fallback, cap_s

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, TeacherRetryable) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self._cap)
        return float(self._fallback(retry_state))


def retrying(max_attempts: int, initial_s: float = 0.1, cap_s: float = 30.0) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(max_attempts),
        wait=WaitRetryAfter(wait_exponential_jitter(initial=initial_s, max=cap_s), cap_s),
        retry=retry_if_exception(is_retryable),
        reraise=True,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or odd."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
