"""BudgetTracker: what was bought is never bought again; a run never spends past its cap.

Redis layout under the client prefix (default `client:`):
- `emb:<content_key>`  float32 bytes of one purchased embedding (content-addressed cache);
- `run:<run name>`     hash: images, texts, cost, cache_hits, requests of that run.
Each delivered batch is written at once (cache and record in one transaction), so a run that
is killed and started again buys only what is still missing.

On a Redis Cluster (`REDIS_URL=redis+cluster://...`) the cache spreads over every node (each
embedding is its own key, in its own slot) and a run's record is one key. A batch is then
written in two steps, its embeddings first, then its record in a transaction of its own: a
run killed between the two keeps what it paid for (a restart finds it in the cache and buys
nothing twice), but its record misses that one batch; the vendor's usage report stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import redis

from client_trainer.teacher.client import Payload, PurchasedBatch, TeacherClient
from shared.redis_connection import SyncRedis
from shared.schemas import Modality

READ_CHUNK = 1000  # keys per MGET


class SpendCapReached(Exception):
    """The run's cap stopped buying: what it has, what is missing and what finishing costs."""

    def __init__(self, modality: str, have: int, missing: int, finish_cost: int, cap: int) -> None:
        super().__init__(
            f"spend cap of {cap} credits reached: have {have} {modality} embeddings,"
            f" {missing} missing; finishing would cost {finish_cost} more credits"
        )
        self.modality, self.have, self.missing = modality, have, missing
        self.finish_cost, self.cap = finish_cost, cap


@dataclass(frozen=True)
class SpendRecord:
    """Spend of one run, as kept in Redis."""

    images: int = 0
    texts: int = 0
    cost: int = 0
    cache_hits: int = 0
    image_hits: int = 0  # the image part of cache_hits
    text_hits: int = 0  # the text part of cache_hits
    requests: int = 0
    replays: int = 0  # batches answered from the vendor's idempotency store (no new charge)


@dataclass(frozen=True)
class Query:
    key: str  # shared.hashing.content_key of what is sent
    payload: Payload  # base64 image / text, or a function producing it


Progress = Callable[[int, int], None]  # (items just delivered, credits just spent)
# Called once the cache was read: (items to buy, cache hits) -> a Progress for the purchase.
ProgressFactory = Callable[[int, int], Progress]


class BudgetTracker:
    def __init__(self, client: SyncRedis, prefix: str, run: str, cap: int | None) -> None:
        self._redis, self._prefix, self._cap = client, prefix, cap
        self._record_key = f"{prefix}run:{run}"

    def _emb(self, key: str) -> str:
        return f"{self._prefix}emb:{key}"

    def cached(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cache hits among `keys`, read with pipelined MGETs (on a cluster, per slot)."""
        chunks = [[self._emb(k) for k in keys[start : start + READ_CHUNK]]
                  for start in range(0, len(keys), READ_CHUNK)]  # fmt: skip
        if isinstance(self._redis, redis.RedisCluster):
            replies = [self._redis.mget_nonatomic(chunk) for chunk in chunks]
        else:
            pipe = self._redis.pipeline(transaction=False)
            for chunk in chunks:
                pipe.mget(chunk)
            replies = pipe.execute()
        values = [v for chunk in replies for v in chunk]
        return {k: np.frombuffer(v, dtype="<f4") for k, v in zip(keys, values, strict=True) if v}

    def store(self, batch: PurchasedBatch) -> None:
        """Cache one delivered batch and add it to the run's record: atomically on one server;
        on a cluster the embeddings first, then the record (see above)."""
        field = "images" if batch.modality == Modality.IMAGE else "texts"
        embeddings = {
            self._emb(k): np.ascontiguousarray(v, dtype="<f4").tobytes()
            for k, v in zip(batch.keys, batch.embeddings, strict=True)
        }
        if isinstance(self._redis, redis.RedisCluster):
            self._redis.mset_nonatomic(embeddings)
            pipe = self._redis.pipeline(transaction=True)
        else:
            pipe = self._redis.pipeline(transaction=True)
            pipe.mset(embeddings)
        pipe.hincrby(self._record_key, field, len(batch.keys))
        pipe.hincrby(self._record_key, "cost", batch.cost)
        pipe.hincrby(self._record_key, "requests", 1)
        pipe.hincrby(self._record_key, "replays", int(batch.replayed))
        pipe.execute()

    def record(self) -> SpendRecord:
        raw = self._redis.hgetall(self._record_key)
        values = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
        return SpendRecord(**{k: v for k, v in values.items() if k in SpendRecord.__annotations__})

    def _count_hits(self, hits: int, modality: Modality) -> None:
        if hits:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hincrby(self._record_key, "cache_hits", hits)
            part = "image_hits" if modality == Modality.IMAGE else "text_hits"
            pipe.hincrby(self._record_key, part, hits)
            pipe.execute()

    def _affordable(self, wanted: int, price: int) -> int:
        if self._cap is None or price == 0:
            return wanted
        left = max(0, self._cap - self.record().cost)
        return min(wanted, left // price)

    async def acquire(
        self,
        modality: Modality,
        queries: Sequence[Query],
        teacher: TeacherClient,
        progress_for: ProgressFactory | None = None,
    ) -> np.ndarray:
        """Embeddings (n, d) for `queries` in order: cache hits, then purchases of the rest
        within the cap. Raises `SpendCapReached` after buying what fits when it cannot all."""
        unique = list(dict.fromkeys(q.key for q in queries))
        have = self.cached(unique)
        self._count_hits(len(have), modality)
        payload_of = {q.key: q.payload for q in queries}
        missing = [k for k in unique if k not in have]
        price = await teacher.price(modality)
        buy = missing[: self._affordable(len(missing), price)]
        progress = progress_for(len(buy), len(have)) if progress_for and buy else None

        def delivered(batch: PurchasedBatch) -> None:
            self.store(batch)
            have.update(zip(batch.keys, batch.embeddings, strict=True))
            if progress is not None:
                progress(len(batch.keys), batch.cost)

        if buy:
            await teacher.embed(modality, buy, [payload_of[k] for k in buy], delivered)
        if len(buy) < len(missing):
            short = len(missing) - len(buy)
            assert self._cap is not None
            raise SpendCapReached(modality.value, len(have), short, short * price, self._cap)
        return np.stack([have[q.key] for q in queries]) if queries else np.empty((0, 0), "f4")
