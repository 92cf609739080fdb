"""Admin routes (Bearer $VENDOR_ADMIN_TOKEN only): create, inspect, top up, revoke keys."""

from __future__ import annotations

from fastapi import APIRouter

from shared.schemas import CreatedKey, CreateKeyRequest, KeyInfo, TopUpRequest
from vendor_service.api.deps import Admin, LedgerDep

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])


@router.post("", status_code=201)
async def create_key(body: CreateKeyRequest, _: Admin, ledger: LedgerDep) -> CreatedKey:
    return await ledger.create_key(body.name, body.budget)


@router.get("/{key_id}")
async def read_key(key_id: str, _: Admin, ledger: LedgerDep) -> KeyInfo:
    return KeyInfo(**(await ledger.usage(key_id)).model_dump())


@router.post("/{key_id}/topup")
async def topup_key(key_id: str, body: TopUpRequest, _: Admin, ledger: LedgerDep) -> KeyInfo:
    return KeyInfo(**(await ledger.topup(key_id, body.amount)).model_dump())


@router.delete("/{key_id}")
async def revoke_key(key_id: str, _: Admin, ledger: LedgerDep) -> KeyInfo:
    return KeyInfo(**(await ledger.revoke(key_id)).model_dump())
