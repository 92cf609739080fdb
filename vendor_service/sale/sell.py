"""Selling embeddings: check -> (images: affordable?) -> rate limit + decode -> reserve -> infer
-> caller still there? -> commit (or refund).

Nothing is reserved before the request is known to be valid; no forward pass takes an item
before its reservation is held; nothing is delivered that was not committed; whatever goes
wrong after the reservation (inference failure, the caller leaving) refunds it. If the process
dies, the reservation's lease refunds it.

A caller who hangs up while its request waits or runs (a client time-out under load, a
killed job) is refunded, not charged for embeddings nobody will read: the sale asks
`caller_left` right before the commit. What remains is the commit's own round trip and the
response's way back; a request with an Idempotency-Key is safe there too (its retry replays).

The reservation's round trip overlaps the batching window: the request joins the batch queue
as it sends its reserve, held out of every batch until the reserve answers (`Batcher.submit`'s
`admitted`, through `Engine.submit`). A lone request waits `max_wait_ms` for company either
way, so its reserve adds nothing to its latency: what metering adds is the commit's round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from shared.hashing import request_fingerprint
from shared.schemas import EmbeddingRequest, Modality
from vendor_service.errors import CallerLeft
from vendor_service.metering import Replay, Reservation, Standing
from vendor_service.metering.rate_limits import RateState
from vendor_service.sale.intake import check_request, decode_images_off_loop
from vendor_service.sale.render import join, render_split
from vendor_service.state import VendorState


@dataclass(frozen=True)
class Sale:
    body: bytes  # exactly the committed (or replayed) response bytes
    budget_remaining: int | None
    rate: RateState | None
    replayed: bool = False


async def sell_embeddings(
    state: VendorState,
    caller: Standing,
    request: EmbeddingRequest,
    idempotency_key: str | None,
    caller_left: Callable[[], bool],
) -> Sale:
    settings, key_id = state.settings, caller.key_id
    inputs = check_request(request, settings, state.engine.info)
    is_image = request.modality is Modality.IMAGE
    images, texts = (len(inputs), 0) if is_image else (0, len(inputs))
    cost = images * settings.price_per_image + texts * settings.price_per_text
    prepared: Sequence[object] = inputs
    if is_image and not settings.unmetered:  # decoding is costly: no free work for a 402
        await state.ledger.precheck(key_id, cost, idempotency_key, seen=caller)
    if is_image:  # the rate-limit round trips overlap with decoding in the decode pool
        rate, prepared = await _rate_limit_while_decoding(state, key_id, inputs)
    else:
        rate = await state.rate_limiter.hit(key_id, len(inputs))
    if settings.unmetered:  # benchmark switch (dev mode only): no ledger at all
        head, tail = await _infer_and_render(state, request, prepared, images, texts, cost)
        return Sale(join(head, 0, tail), None, rate)
    fingerprint = request_fingerprint(request.model_dump(mode="json")) if idempotency_key else ""
    reserve = partial(
        state.ledger.reserve, key_id, cost, images, texts, idempotency_key, fingerprint
    )
    queued = await _reserve_while_queued(state, request.modality, prepared, reserve)
    if isinstance(queued, Replay):
        state.metrics.replays.inc()
        return Sale(queued.body, await state.ledger.remaining(key_id), rate, replayed=True)
    held, inference = queued
    head, tail = await _infer_or_refund(state, held, request, inference, images, texts)
    if caller_left():
        await _refund(state, held, "caller_left")
        raise CallerLeft()
    # Shielded: once started, a commit finishes even if the caller goes away.
    remaining = await asyncio.shield(state.ledger.commit(held, head, tail))
    state.metrics.spend.inc(cost)
    state.metrics.items.labels(request.modality.value).inc(len(inputs))
    return Sale(join(head, remaining, tail), remaining, rate)


async def _reserve_while_queued(
    state: VendorState,
    modality: Modality,
    prepared: Sequence[object],
    reserve: Callable[[], Awaitable[Reservation | Replay]],
) -> tuple[Reservation, asyncio.Future[torch.Tensor]] | Replay:
    """Queue the request, then reserve: the round trip overlaps the batching window, and no
    batch takes the items before the reservation is held. Returns the reservation and the
    inference, or the replay. A full queue refuses (503) before anything is reserved."""
    admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    inference = state.engine.submit(modality, prepared, admitted)
    try:
        held = await reserve()
    except BaseException:
        _discard(inference)  # nothing held: the items leave the queue untouched
        raise
    if isinstance(held, Replay):
        _discard(inference)
        return held
    admitted.set_result(None)
    return held, inference


def _discard(pending: asyncio.Future[Any]) -> None:
    """Cancel `pending` (a batcher's future: its items leave the queue) and mark its outcome
    as seen, whatever it turns out to be."""
    pending.cancel()
    pending.add_done_callback(lambda done: done.cancelled() or done.exception())


async def _rate_limit_while_decoding(
    state: VendorState, key_id: str, inputs: list[str]
) -> tuple[RateState | None, Sequence[object]]:
    """Both at once; a refusal (429) cancels the decoding, which stops at its next image."""
    engine = state.engine
    decoding = asyncio.ensure_future(
        decode_images_off_loop(inputs, state.settings, engine.model, engine.decode_pool)
    )
    try:
        rate = await state.rate_limiter.hit(key_id, len(inputs))
    except BaseException:
        # Mark a decoding error as seen: the refusal is the answer, not a logged leftover.
        _discard(decoding)
        raise
    return rate, await decoding


async def _infer_or_refund(
    state: VendorState,
    held: Reservation,
    request: EmbeddingRequest,
    inference: asyncio.Future[torch.Tensor],
    images: int,
    texts: int,
) -> tuple[bytes, bytes]:
    try:
        vectors = await inference
        return _render(state, request, vectors, images, texts, held.cost)
    except BaseException as exc:
        reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else "inference_failed"
        await _refund(state, held, reason)
        raise


async def _refund(state: VendorState, held: Reservation, reason: str) -> None:
    """Release the hold; shielded, so a caller cancelled meanwhile cannot stop it half-way."""
    await asyncio.shield(state.ledger.refund(held))
    state.metrics.refunds.labels(reason).inc()


async def _infer_and_render(
    state: VendorState,
    request: EmbeddingRequest,
    prepared: Sequence[object],
    images: int,
    texts: int,
    cost: int,
) -> tuple[bytes, bytes]:
    vectors = await state.engine.encode(request.modality, prepared)
    return _render(state, request, vectors, images, texts, cost)


def _render(
    state: VendorState,
    request: EmbeddingRequest,
    vectors: torch.Tensor,
    images: int,
    texts: int,
    cost: int,
) -> tuple[bytes, bytes]:
    array = np.ascontiguousarray(vectors.numpy(), dtype=np.float32)
    return render_split(
        array, state.engine.info.model_id, request.encoding_format, images, texts, cost
    )
