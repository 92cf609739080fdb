"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from shared.errors import ErrorCode
from vendor_service.api.deps import State
from vendor_service.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing about the model or Redis)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str | int]:
    """200 once the warm-up forward pass succeeded and while forwards keep succeeding; says
    which worker answered and the device its model runs on."""
    state = getattr(request.app.state, "vendor", None)
    if state is None or not state.engine.warmed_up:
        raise Unavailable(ErrorCode.NOT_READY, "the model is still loading", retry_after=2)
    if not state.engine.health.ok:
        raise Unavailable(ErrorCode.NOT_READY, "the model is failing", retry_after=5)
    return {
        "status": "ready",
        "model": state.engine.info.model_id,
        "worker": state.settings.worker_index,
        "device": state.device,
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
