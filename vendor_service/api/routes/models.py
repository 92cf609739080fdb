"""GET /v1/models: the one model on sale, its weights, its shape and its prices."""

from __future__ import annotations

from fastapi import APIRouter

from shared.schemas import ModelCard, ModelList
from vendor_service.api.deps import State

router = APIRouter(tags=["models"])


@router.get("/v1/models")
async def list_models(state: State) -> ModelList:
    info, settings = state.engine.info, state.settings
    card = ModelCard(
        id=info.model_id,
        pretrained=info.weights,
        embedding_dim=info.embedding_dim,
        image_size=info.image_size,
        context_length=info.context_length,
        price_per_image=settings.price_per_image,
        price_per_text=settings.price_per_text,
        max_inputs_per_request=settings.max_inputs_per_request,
        max_image_bytes=settings.max_image_bytes,
        max_image_pixels=settings.max_image_pixels,
        max_text_chars=settings.max_text_chars,
    )
    return ModelList(data=[card])
