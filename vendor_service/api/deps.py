"""Dependencies as `Annotated` aliases, so routes read `def route(caller: Caller, ...)`.

Every dependency is `async def` even when it never awaits: FastAPI runs a plain `def`
dependency in a worker thread, a thread hop per dependency per request.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared import headers as h
from shared.errors import ErrorCode
from vendor_service.errors import AuthError, RequestRejected, Unavailable
from vendor_service.ledger import Ledger, Standing
from vendor_service.ledger.api_keys import parse_api_key
from vendor_service.state import VendorState

_bearer = HTTPBearer(auto_error=False, description="API key `vk-...` (or the admin token)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_state(request: Request) -> VendorState:
    state: VendorState | None = getattr(request.app.state, "vendor", None)
    if state is None:
        raise Unavailable(ErrorCode.NOT_READY, "the service is starting")
    return state


State = Annotated[VendorState, Depends(get_state)]


async def get_ledger(state: State) -> Ledger:
    return state.ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


async def authenticate_caller(credentials: Credentials, ledger: LedgerDep) -> Standing:
    """The caller's key, and the credits it had free, read in the same round trip."""
    if credentials is None or not credentials.credentials:
        raise AuthError(ErrorCode.MISSING_API_KEY, "missing API key (Authorization: Bearer vk-...)")
    return await ledger.authenticate_standing(credentials.credentials)


Caller = Annotated[Standing, Depends(authenticate_caller)]


async def require_admin(credentials: Credentials, state: State) -> None:
    if credentials is None or not credentials.credentials:
        raise AuthError(ErrorCode.MISSING_API_KEY, "missing admin token")
    presented = credentials.credentials.encode()
    if hmac.compare_digest(presented, state.settings.admin_token.encode()):
        return
    if parse_api_key(credentials.credentials) is not None:
        raise AuthError(ErrorCode.ADMIN_ONLY, "this route needs the admin token, not an API key")
    raise AuthError(ErrorCode.INVALID_API_KEY, "invalid admin token")


Admin = Annotated[None, Depends(require_admin)]


async def idempotency_key(
    value: Annotated[str | None, Header(alias=h.IDEMPOTENCY_KEY)] = None,
) -> str | None:
    if value is not None and not 1 <= len(value) <= h.IDEMPOTENCY_KEY_MAX_LENGTH:
        raise RequestRejected(
            ErrorCode.INVALID_REQUEST,
            f"Idempotency-Key must be 1..{h.IDEMPOTENCY_KEY_MAX_LENGTH} characters",
        )
    return value


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
