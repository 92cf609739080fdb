"""GET /v1/usage: the caller's own account."""

from __future__ import annotations

from fastapi import APIRouter

from shared.schemas import UsageReport
from vendor_service.api.deps import Caller, LedgerDep

router = APIRouter(tags=["usage"])


@router.get("/v1/usage")
async def read_usage(caller: Caller, ledger: LedgerDep) -> UsageReport:
    return await ledger.usage(caller.key_id)
