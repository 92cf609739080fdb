"""The engine: one model, the threads that feed it, and one batcher per modality.

Everything upstream (the sale, the app's lifespan) asks the engine for embeddings of a
modality and never chooses a batcher or an executor itself:

    engine = await Engine.load(settings, factory, metrics)
    engine.start()
    await engine.warm_up()                       # one forward per modality
    vectors = await engine.encode(Modality.TEXT, ["a cat"])
    pending = engine.submit(Modality.IMAGE, images, admitted)  # held until `admitted`
    await engine.stop()

`submit` with an `admitted` future is the sale's hook for reserving money while the request
already waits in its batcher (see `Batcher.submit`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import torch

from shared.schemas import Modality
from vendor_service.engine.batcher import Batcher, BatchObserver, BatchPolicy, ModelHealth
from vendor_service.engine.model import EmbeddingModel, ModelFactory, ModelInfo
from vendor_service.engine.placement import batches_in_flight, build_model
from vendor_service.metrics import VendorMetrics
from vendor_service.settings import Settings

log = logging.getLogger(__name__)


class Engine:
    """The model behind both batchers; `start`, then `submit`/`encode`, then `stop`."""

    def __init__(
        self, model: EmbeddingModel, settings: Settings, metrics: VendorMetrics | None = None
    ) -> None:
        self.model = model
        self.health = ModelHealth()
        self.warmed_up = False
        in_flight = batches_in_flight(model, settings)
        # Threads that wait on forward passes: one in all with the model here; with a model
        # process, one per batch in flight of each modality (they only wait on its replies).
        self.executor = ThreadPoolExecutor(max_workers=2 * in_flight if in_flight > 1 else 1,
                                           thread_name_prefix="inference")  # fmt: skip
        # Image decoding and preprocessing, off the event loop and off the forward's thread.
        self.decode_pool = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="decode")
        policy = BatchPolicy(
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            max_queue_items=settings.max_queue_items,
            timeout_seconds=settings.inference_timeout_seconds,
            max_in_flight=in_flight,
        )
        self.batchers: dict[Modality, Batcher[Any]] = {
            Modality.TEXT: self._batcher(Modality.TEXT, policy, metrics),
            Modality.IMAGE: self._batcher(Modality.IMAGE, policy, metrics),
        }

    @classmethod
    async def load(
        cls, settings: Settings, factory: ModelFactory, metrics: VendorMetrics | None = None
    ) -> Engine:
        """Build the model (in a thread: loading takes seconds) and the engine around it."""
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        model = await anyio.to_thread.run_sync(build_model, factory, settings)
        return cls(model, settings, metrics)

    @property
    def info(self) -> ModelInfo:
        return self.model.info

    def _batcher(
        self, modality: Modality, policy: BatchPolicy, metrics: VendorMetrics | None
    ) -> Batcher[Any]:
        images = modality is Modality.IMAGE
        # (N, 3, S, S) uint8 stacked by `collate`, or N strings -> (N, D)
        forward: Callable[[Any], torch.Tensor] = (
            self.model.encode_images if images else self.model.encode_texts
        )
        return Batcher(
            forward,
            self.executor,
            policy,
            health=self.health,
            observer=_observer(metrics, modality) if metrics is not None else None,
            collate=torch.stack if images else None,
        )

    def start(self) -> None:
        for batcher in self.batchers.values():
            batcher.start()

    def submit(
        self,
        modality: Modality,
        items: Sequence[Any],
        admitted: asyncio.Future[Any] | None = None,
    ) -> asyncio.Future[torch.Tensor]:
        """Queue `items` (texts, or preprocessed (3, S, S) uint8 images) in their modality's
        batcher; the future gets their (N, D) embeddings. With `admitted`, no batch takes
        them before that future has a result (`Batcher.submit`)."""
        return self.batchers[modality].submit(items, admitted)

    async def encode(self, modality: Modality, items: Sequence[Any]) -> torch.Tensor:
        """(N, D) L2-normalised embeddings of `items`, batched with other requests'."""
        return await self.submit(modality, items)

    async def warm_up(self) -> None:
        """One forward per modality; `warmed_up` (and /readyz) only after both succeeded."""
        size = self.info.image_size
        await self.encode(Modality.TEXT, ["a warm-up text"])
        await self.encode(Modality.IMAGE, [torch.zeros(3, size, size, dtype=torch.uint8)])
        self.warmed_up = True

    async def stop(self) -> None:
        """Fail what is queued, end a model process, and join the threads."""
        for batcher in self.batchers.values():
            await batcher.stop()
        close = getattr(self.model, "close", None)
        if close is not None:  # a model process: its calls in flight fail, so no thread waits on
            close()  # a hung child below
        self.executor.shutdown(wait=True)
        self.decode_pool.shutdown(wait=True)


def _observer(metrics: VendorMetrics, modality: Modality) -> BatchObserver:
    label = modality.value

    def on_batch(size: int, seconds: float) -> None:
        metrics.batch_size.labels(label).observe(size)
        metrics.inference_seconds.labels(label).observe(seconds)

    return BatchObserver(on_batch=on_batch, on_queue_depth=metrics.queue_depth.labels(label).set)
