"""GET /v1/usage: the caller's own account."""

from __future__ import annotations

from fastapi import APIRouter

from shared.errors import ErrorCode
from shared.schemas import UsageReport
from vendor_service.api.deps import Caller, LedgerDep
from vendor_service.errors import AuthError

router = APIRouter(tags=["usage"])


@router.get("/v1/usage")
async def read_usage(caller: Caller, ledger: LedgerDep) -> UsageReport:
    report = await ledger.usage(caller.key_id)
    if report.revoked:  # the caller may have been verified a moment before the revocation
        raise AuthError(ErrorCode.REVOKED_API_KEY, "this API key has been revoked")
    return report
