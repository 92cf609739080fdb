"""TeacherClient: the client's only way to the teacher, over the REST contract.

Batches inputs up to the vendor's per-request limit (a request refused as too big as a whole,
body or input count, is sent again as two halves), keeps several requests in flight,
retries transient failures with the same Idempotency-Key (never paying twice) and stops on
402 after buying whatever still fits, with a `BudgetExhausted` that says what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from client_trainer.teacher.errors import (
    BudgetExhausted,
    TeacherError,
    TeacherHTTPError,
    TeacherUnavailable,
)
from client_trainer.teacher.retry import retrying
from client_trainer.teacher.wire import (
    idempotency_key,
    is_payment_required,
    is_replay,
    is_request_too_big,
    parse_embeddings,
    raise_for_error,
    request_body,
)
from shared.headers import AUTHORIZATION, IDEMPOTENCY_KEY
from shared.schemas import Modality, ModelCard, ModelList, UsageReport

Payload = str | Callable[[], str]  # the input, or a function producing it (lazy file reads)


@dataclass(frozen=True)
class PurchasedBatch:
    """One delivered request: the content keys and their embeddings, in order."""

    modality: Modality
    keys: list[str]
    embeddings: np.ndarray  # (n, d) float32, L2-normalised by the vendor
    # Credits the vendor charged for these embeddings. A replay is not charged again, but it
    # still reports the one original charge, which this client never saw (the first answer
    # was lost, or its process died before caching it): so it is counted here, once.
    cost: int
    budget_remaining: int
    replayed: bool = False  # answered from the vendor's idempotency store


OnBatch = Callable[[PurchasedBatch], None]


class TeacherClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        model: str | None = None,
        max_in_flight: int = 4,
        max_inputs_per_request: int | None = None,
        max_attempts: int = 8,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={AUTHORIZATION: f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(max_connections=max_in_flight + 2),
        )
        self._wanted_model, self._max_in_flight = model, max_in_flight
        self._max_inputs, self._max_attempts = max_inputs_per_request, max_attempts
        self._card: ModelCard | None = None

    async def __aenter__(self) -> TeacherClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, retried on transient failures; connection failures that outlast every
        attempt become `TeacherUnavailable`."""
        try:
            async for attempt in retrying(self._max_attempts):
                with attempt:
                    response = await self._http.request(method, path, **kwargs)
                    raise_for_error(response)
        except httpx.TransportError as exc:
            raise TeacherUnavailable(
                f"vendor at {self._http.base_url} unreachable after {self._max_attempts}"
                f" attempts ({exc.__class__.__name__}: {exc})"
            ) from exc
        return response

    async def _get(self, path: str) -> httpx.Response:
        return await self._send("GET", path)

    async def card(self) -> ModelCard:
        """The model card from /v1/models: id, dimension, prices, per-request limit."""
        if self._card is None:
            models = ModelList.model_validate_json((await self._get("/v1/models")).content).data
            chosen = [m for m in models if self._wanted_model in (None, m.id)]
            if not chosen:
                raise TeacherError(f"vendor has no model {self._wanted_model!r}")
            self._card = chosen[0]
        return self._card

    async def usage(self) -> UsageReport:
        return UsageReport.model_validate_json((await self._get("/v1/usage")).content)

    async def batch_size(self) -> int:
        limit = (await self.card()).max_inputs_per_request
        return min(limit, self._max_inputs) if self._max_inputs else limit

    async def price(self, modality: Modality) -> int:
        card = await self.card()
        return card.price_per_image if modality == Modality.IMAGE else card.price_per_text

    async def embed_batch(
        self, modality: Modality, keys: list[str], payloads: Sequence[Payload]
    ) -> PurchasedBatch:
        """One request (retried with one Idempotency-Key) for at most `batch_size()` inputs."""
        model_id = (await self.card()).id
        inputs = [p() if callable(p) else p for p in payloads]
        body = request_body(model_id, modality, inputs)
        headers = {IDEMPOTENCY_KEY: idempotency_key(model_id, modality, keys)}
        response = await self._send("POST", "/v1/embeddings", json=body, headers=headers)
        vectors, cost, remaining = parse_embeddings(response, len(keys))
        replayed = is_replay(response)
        return PurchasedBatch(modality, keys, vectors, cost, remaining, replayed)

    async def embed(
        self,
        modality: Modality,
        keys: list[str],
        payloads: Sequence[Payload],
        on_batch: OnBatch,
    ) -> int:
        """Buy every input, `on_batch` called as each request is delivered; returns how many
        were delivered. On 402 the requests in flight finish, what still fits the remaining
        budget is bought, then `BudgetExhausted` is raised."""
        size = await self.batch_size()
        chunks = [list(range(i, min(i + size, len(keys)))) for i in range(0, len(keys), size)]
        return await _Purchase(self, modality, keys, payloads, on_batch).run(chunks)


class _Purchase:
    """Workers pulling chunks from one queue; the first failure stops new requests."""

    def __init__(
        self,
        client: TeacherClient,
        modality: Modality,
        keys: list[str],
        payloads: Sequence[Payload],
        on_batch: OnBatch,
    ) -> None:
        self._client, self._modality, self._keys, self._payloads = client, modality, keys, payloads
        self._on_batch = on_batch
        self._delivered = 0
        self._pending: list[list[int]] = []
        self._failure: BaseException | None = None

    async def _send(self, chunk: list[int]) -> None:
        batch = await self._client.embed_batch(
            self._modality, [self._keys[i] for i in chunk], [self._payloads[i] for i in chunk]
        )
        self._on_batch(batch)
        self._delivered += len(chunk)

    async def _worker(self) -> None:
        while self._pending and self._failure is None:
            chunk = self._pending.pop(0)
            try:
                await self._send(chunk)
            except Exception as exc:  # noqa: BLE001 - kept, stops the others, reraised by run()
                if isinstance(exc, TeacherHTTPError) and len(chunk) > 1 and is_request_too_big(exc):
                    half = len(chunk) // 2  # refused whole, nothing charged: send its halves
                    self._pending[0:0] = [chunk[:half], chunk[half:]]
                    continue
                self._pending.insert(0, chunk)
                self._failure = self._failure or exc

    async def run(self, chunks: list[list[int]]) -> int:
        self._pending = list(chunks)
        workers = min(self._client._max_in_flight, len(chunks))
        await asyncio.gather(*(self._worker() for _ in range(workers)))
        if self._failure is None:
            return self._delivered
        if isinstance(self._failure, TeacherHTTPError) and is_payment_required(self._failure):
            await self._buy_what_fits()
        raise self._failure

    async def _buy_what_fits(self) -> None:
        """After a 402: buy as many of the missing inputs as the key can still pay for."""
        price = await self._client.price(self._modality)
        remaining: int | None = None
        with contextlib.suppress(TeacherError):
            remaining = (await self._client.usage()).remaining
        missing = [i for chunk in self._pending for i in chunk]
        affordable = min(len(missing), remaining // price) if remaining and price else 0
        if affordable:
            with contextlib.suppress(TeacherError):  # a racing spender may have taken it
                await self._send(missing[:affordable])
                missing = missing[affordable:]
                remaining = None if remaining is None else remaining - affordable * price
        self._failure = BudgetExhausted(
            self._modality.value, self._delivered, len(missing), price, remaining
        )
