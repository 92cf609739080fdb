"""TeacherSession: a run's synchronous door to the teacher, through the budget tracker.

It owns one event loop (so the async TeacherClient keeps its connections across calls), the
client and the tracker, and turns data into normalised embedding tensors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import numpy as np
import torch
import torch.nn.functional as F

from client_trainer.config import TeacherConfig
from client_trainer.data.images import ImageSet
from client_trainer.purchase import queries
from client_trainer.purchase.fit import limits_of
from client_trainer.purchase.tracker import BudgetTracker, Query, SpendRecord
from client_trainer.teacher.client import TeacherClient
from shared.codec import ImageLimits
from shared.redis_connection import SyncRedis, connect
from shared.redis_server import RedisEndpoint, redis_url_from_env, resolve_redis
from shared.schemas import Modality, ModelCard

T = TypeVar("T")


class CacheMiss(Exception):
    """An embedding that must already be in the cache is not (a torchrun rank other than 0
    reads what rank 0 bought; it never buys it a second time)."""


PurchaseProgress = Callable[[str, int], Callable[[int, int], None]]  # (label, total) -> tick
EMBEDDED_REDIS_DIR = Path.home() / ".cache" / "client_trainer" / "redis"


def open_redis(config: TeacherConfig) -> tuple[SyncRedis, RedisEndpoint]:
    """The client's Redis: REDIS_URL's server or cluster, else an embedded server."""
    endpoint = resolve_redis(
        config.redis_url or redis_url_from_env(), EMBEDDED_REDIS_DIR, "client_trainer"
    )
    return connect(endpoint.url), endpoint


class TeacherSession:
    def __init__(
        self,
        config: TeacherConfig,
        run_name: str,
        progress: PurchaseProgress | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._runner = asyncio.Runner()
        self._redis, self._endpoint = open_redis(config)
        self.tracker = BudgetTracker(self._redis, config.redis_prefix, run_name, config.cap)
        self._opened = self.tracker.record()  # a run name started again keeps its earlier spend
        self._progress = progress
        self._cache_only, self._prefix = False, config.redis_prefix
        self.client = TeacherClient(
            config.vendor_url,
            config.api_key.get_secret_value(),
            model=config.model,
            max_in_flight=config.max_in_flight,
            max_inputs_per_request=config.max_inputs_per_request,
            max_attempts=config.max_attempts,
            timeout_s=config.timeout_s,
            transport=transport,
        )

    def __enter__(self) -> TeacherSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._runner.run(self.client.aclose())
        self._runner.close()
        self._redis.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def card(self) -> ModelCard:
        return self._run(self.client.card())

    def limits(self) -> ImageLimits:
        """The vendor's image limits, which every image query is fitted to."""
        return limits_of(self.card())

    def record(self) -> SpendRecord:
        """What this run name has bought, over every process that ran it."""
        return self.tracker.record()

    @contextmanager
    def cache_only(self) -> Iterator[None]:
        """Inside, every embedding comes from the cache: a miss is a CacheMiss, nothing is
        bought and no cache hit is counted in the run's record."""
        self._cache_only = True
        try:
            yield
        finally:
            self._cache_only = False

    def read(self, items: list[Query], label: str = "embeddings") -> torch.Tensor:
        """(n, D) cached embeddings of `items`, in order; CacheMiss when any is missing."""
        found = self.tracker.cached(list(dict.fromkeys(q.key for q in items)))
        missing = sum(q.key not in found for q in items)
        if missing:
            raise CacheMiss(
                f"{missing} of {len(items)} embeddings ({label}) are not in the client cache"
                f" (key prefix {self._prefix!r}): every process of a torchrun reads what rank 0"
                " bought, so all must share its Redis (on several machines, set REDIS_URL to"
                " one Redis they all reach)"
            )
        if not items:
            return torch.empty(0, 0)
        stacked = np.stack([found[q.key] for q in items]).astype(np.float32)
        return F.normalize(torch.from_numpy(stacked), dim=-1)

    def spent(self) -> SpendRecord:
        """What the teacher session bought and read from the cache: a run redone after a kill counts
        its own purchases and hits, not its killed attempt's as well."""
        now, opened = self.tracker.record(), self._opened
        return SpendRecord(**{f.name: getattr(now, f.name) - getattr(opened, f.name)
                              for f in fields(SpendRecord)})  # fmt: skip

    def acquire(self, modality: Modality, items: list[Query], label: str) -> torch.Tensor:
        if self._cache_only:
            return self.read(items, label)
        show = self._progress

        def progress_for(to_buy: int, hits: int) -> Callable[[int, int], None]:
            assert show is not None
            return show(f"{label} ({hits} cached)", to_buy)

        factory = progress_for if show is not None else None
        found = self._run(self.tracker.acquire(modality, items, self.client, factory))
        return F.normalize(torch.from_numpy(np.array(found, dtype=np.float32)), dim=-1)

    def prompt_embeddings(self, prompts: list[str]) -> torch.Tensor:
        """(P, D): one embedding per prompt string, as given."""
        model_id = self.card().id
        return self.acquire(
            Modality.TEXT, [queries.text_query(model_id, p) for p in prompts], "texts"
        )

    def texts(self, classes: tuple[str, ...], ensemble: bool) -> torch.Tensor:
        """(C, D): per class the mean of its prompts' embeddings, renormalised."""
        prompts = queries.class_prompts(classes, ensemble)
        found = self.prompt_embeddings([p for group in prompts for p in group])
        per_class = found.view(len(classes), len(prompts[0]), -1).mean(dim=1)
        return F.normalize(per_class, dim=-1)

    def images(self, paths: Sequence[Path], label: str) -> torch.Tensor:
        """(N, D): one embedding per image file (its exact bytes, or fitted to the limits)."""
        model_id, limits = self.card().id, self.limits()
        items = [queries.image_file_query(model_id, p, limits) for p in paths]
        return self.acquire(Modality.IMAGE, items, label)

    def cached_images(self, paths: Sequence[Path]) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, (n, D) embeddings) of the image files among `paths` whose embedding the
        cache already holds: nothing is bought and no cache hit is counted."""
        model_id, limits = self.card().id, self.limits()
        keys = [queries.image_file_query(model_id, p, limits).key for p in paths]
        found = self.tracker.cached(list(dict.fromkeys(keys)))
        rows = [i for i, key in enumerate(keys) if key in found]
        if not rows:
            return torch.empty(0, dtype=torch.long), torch.empty(0, self.card().embedding_dim)
        stacked = np.stack([found[keys[i]] for i in rows]).astype(np.float32)
        embeddings = F.normalize(torch.from_numpy(stacked), dim=-1)
        return torch.as_tensor(rows, dtype=torch.long), embeddings

    def views(
        self,
        images: ImageSet,
        k_views: int,
        seed: int,
        size: int,
        bought: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """K augmented views per image (N, K, 3, S, S) uint8 and their embeddings (N, K, D);
        with `bought` (N,) bool only those images' views are bought (zeros elsewhere)."""
        model_id, limits = self.card().id, self.limits()
        keys = [queries.image_file_query(model_id, p, limits).key for p in images.paths]
        views = queries.make_views(images.pixels, keys, k_views, seed, size)
        rows = range(len(images)) if bought is None else bought.nonzero().flatten().tolist()
        items = [
            queries.pixels_query(
                model_id, views[i, k], queries.view_descriptor(size, k, seed), limits
            )
            for i in rows
            for k in range(k_views)
        ]
        found = self.acquire(Modality.IMAGE, items, f"views:{k_views}")
        embeddings = torch.zeros(len(images), k_views, found.shape[-1] if len(items) else 0)
        embeddings[torch.as_tensor(list(rows), dtype=torch.long)] = found.view(
            len(rows), k_views, -1
        )
        return views, embeddings

    def per_step(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings of one augmented uint8 batch (3, S, S each)."""
        return self.acquire(Modality.IMAGE, self.per_step_queries(pixels), "per-step")

    def per_step_queries(self, pixels: torch.Tensor) -> list[Query]:
        """The queries of one augmented uint8 batch (B, 3, S, S), one per image."""
        model_id, limits = self.card().id, self.limits()
        descriptor = queries.per_step_descriptor(pixels.shape[-1])
        return [queries.pixels_query(model_id, p, descriptor, limits) for p in pixels]
