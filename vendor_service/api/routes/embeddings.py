"""POST /v1/embeddings: OpenAI-compatible, metered."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shared import headers as h
from shared.schemas import EmbeddingRequest, EmbeddingResponse
from vendor_service.api.deps import Caller, IdempotencyHeader, checked_idempotency_key, vendor_state
from vendor_service.api.disconnect import hang_up_check
from vendor_service.sale import sell_embeddings

router = APIRouter(tags=["embeddings"])


@router.post("/v1/embeddings", response_model=EmbeddingResponse)
async def create_embeddings(
    body: EmbeddingRequest,
    caller: Caller,
    request: Request,
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    # The state comes from the request, not a dependency: this route is the hot path.
    state, key = vendor_state(request), checked_idempotency_key(idempotency_key)
    sale = await sell_embeddings(state, caller, body, key, hang_up_check(request.receive))
    headers = sale.rate.headers() if sale.rate else {}
    if sale.budget_remaining is not None:
        headers[h.BUDGET_REMAINING] = str(sale.budget_remaining)
    if sale.replayed:
        headers[h.IDEMPOTENT_REPLAYED] = "true"
    return Response(sale.body, media_type="application/json", headers=headers)
