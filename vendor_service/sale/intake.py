"""Checks a request before anything is reserved: model, sizes, emptiness, image decoding.

Everything here raises `RequestRejected` (a 4xx) and charges nothing.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor

import torch

from shared.codec import CodecError, ImageLimits, decode_image_payload
from shared.errors import ErrorCode
from shared.schemas import EmbeddingRequest, Modality
from vendor_service.engine.model import EmbeddingModel, ModelInfo
from vendor_service.errors import RequestRejected
from vendor_service.settings import Settings


def check_request(request: EmbeddingRequest, settings: Settings, info: ModelInfo) -> list[str]:
    """The request's inputs, or RequestRejected saying what is wrong with it."""
    if request.model != info.model_id:
        raise RequestRejected(
            ErrorCode.MODEL_NOT_FOUND,
            f"model {request.model!r} does not exist; GET /v1/models lists {info.model_id!r}",
        )
    if request.dimensions is not None and request.dimensions != info.embedding_dim:
        raise RequestRejected(
            ErrorCode.INVALID_REQUEST,
            f"dimensions must be {info.embedding_dim} for {info.model_id}, "
            f"got {request.dimensions}",
        )
    inputs = request.inputs()
    if not inputs:
        raise RequestRejected(ErrorCode.EMPTY_INPUT, "input is an empty list")
    if len(inputs) > settings.max_inputs_per_request:
        raise RequestRejected(
            ErrorCode.TOO_MANY_INPUTS,
            f"{len(inputs)} inputs, over the limit of "
            f"{settings.max_inputs_per_request} per request",
        )
    for index, value in enumerate(inputs):
        if not value:
            raise RequestRejected(ErrorCode.EMPTY_INPUT, f"input {index} is an empty string")
        if request.modality is Modality.TEXT and len(value) > settings.max_text_chars:
            raise RequestRejected(
                ErrorCode.TEXT_TOO_LONG,
                f"input {index} has {len(value)} characters, over the limit of "
                f"{settings.max_text_chars}",
            )
    return inputs


def decode_images(
    payloads: list[str],
    limits: ImageLimits,
    model: EmbeddingModel,
    abandoned: threading.Event | None = None,
) -> list[torch.Tensor]:
    """Base64 payloads -> preprocessed tensors; the first bad one rejects the request.
    Stops early (returning what it has) once `abandoned` is set: nobody waits any more."""
    tensors = []
    for index, payload in enumerate(payloads):
        if abandoned is not None and abandoned.is_set():
            break
        try:
            image = decode_image_payload(payload, limits)
        except CodecError as exc:
            raise RequestRejected(ErrorCode(exc.code), f"input {index}: {exc}") from exc
        tensors.append(model.preprocess(image))
    return tensors


async def decode_images_off_loop(
    payloads: list[str], settings: Settings, model: EmbeddingModel, pool: Executor
) -> list[torch.Tensor]:
    """Decoding and preprocessing in `pool`, never on the event loop; cancelling the caller
    (a 429 from the rate limiter, a client gone) stops the decoding at the next image."""
    limits = ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    loop = asyncio.get_running_loop()
    abandoned = threading.Event()
    try:
        return await loop.run_in_executor(pool, decode_images, payloads, limits, model, abandoned)
    except asyncio.CancelledError:
        abandoned.set()
        raise
