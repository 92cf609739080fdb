"""Dependencies as `Annotated` aliases, so routes read `def route(caller: Caller, ...)`.

Each dependency FastAPI resolves costs CPU on every request, so the caller's authentication is
one dependency that does all of its work: read the bearer token, find the vendor's state,
check the key (`tests/vendor_service/api/test_deps.py` keeps it at one). Authentication
subclasses `HTTPBearer`, so `/openapi.json` still declares the bearer scheme. Every dependency
is `async def` even when it never awaits: FastAPI runs a plain `def` dependency in a worker
thread, a thread hop per dependency per request.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from shared import headers as h
from shared.errors import ErrorCode
from vendor_service.errors import AuthError, RequestRejected, Unavailable
from vendor_service.metering import Ledger, Standing
from vendor_service.metering.api_keys import parse_api_key
from vendor_service.state import VendorState

_SCHEME = "HTTPBearer"  # the name /openapi.json gives the scheme; clients' specs refer to it
_DESCRIPTION = "API key `vk-...` (or the admin token)"


def vendor_state(connection: HTTPConnection) -> VendorState:
    """The running service's state; 503 while it is still starting."""
    state: VendorState | None = getattr(connection.app.state, "vendor", None)
    if state is None:
        raise Unavailable(ErrorCode.NOT_READY, "the service is starting")
    return state


async def get_state(request: Request) -> VendorState:
    return vendor_state(request)


State = Annotated[VendorState, Depends(get_state)]


async def get_ledger(request: Request) -> Ledger:
    return vendor_state(request).ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


class _Bearer(HTTPBearer):
    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name=_SCHEME, description=_DESCRIPTION)

    async def token(self, request: Request, missing: str) -> str:
        credentials = await super().__call__(request)
        if credentials is None or not credentials.credentials:
            raise AuthError(ErrorCode.MISSING_API_KEY, missing)
        return credentials.credentials


class ApiKeyAuth(_Bearer):
    """`Authorization: Bearer vk-...` -> the caller's key and the credits it had free, read
    in the same round trip."""

    async def __call__(self, request: Request) -> Standing:  # type: ignore[override]
        token = await self.token(request, "missing API key (Authorization: Bearer vk-...)")
        return await vendor_state(request).ledger.authenticate_standing(token)


class AdminAuth(_Bearer):
    """`Authorization: Bearer $VENDOR_ADMIN_TOKEN`, compared in constant time."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        token = await self.token(request, "missing admin token")
        expected = vendor_state(request).settings.admin_token
        if hmac.compare_digest(token.encode(), expected.encode()):
            return
        if parse_api_key(token) is not None:
            raise AuthError(
                ErrorCode.ADMIN_ONLY, "this route needs the admin token, not an API key"
            )
        raise AuthError(ErrorCode.INVALID_API_KEY, "invalid admin token")


Caller = Annotated[Standing, Depends(ApiKeyAuth())]
Admin = Annotated[None, Depends(AdminAuth())]

# A plain header parameter (no dependency of its own), checked by the route.
IdempotencyHeader = Annotated[str | None, Header(alias=h.IDEMPOTENCY_KEY)]


def checked_idempotency_key(value: str | None) -> str | None:
    if value is not None and not 1 <= len(value) <= h.IDEMPOTENCY_KEY_MAX_LENGTH:
        raise RequestRejected(
            ErrorCode.INVALID_REQUEST,
            f"Idempotency-Key must be 1..{h.IDEMPOTENCY_KEY_MAX_LENGTH} characters",
        )
    return value
