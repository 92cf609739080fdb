"""Buying under torchrun: whatever the ranks need is bought by one of them, and paid once.

Before training, rank 0 buys what the method needs exactly as a one-process run does (the
same spend record), while the other ranks wait; then they read it all from the cache, where a
miss is an error (`CacheMiss`), never a second purchase.

Per-step targets: each rank buys its own share of the step's augmented batch. The same bytes
in two ranks' shares are bought by the lower rank only (the ranks swap their content keys
first); after the step's purchases every rank reads its share from the cache. So the record's
images, texts and cost are the one-process run's; only `requests` counts each rank's own
requests. With a spend cap the ranks buy one after another, so the cap holds as in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from client_trainer.config import RunConfig
from client_trainer.data.splits import TaskSplit
from client_trainer.methods.base import TeacherBundle, TeacherNeeds
from client_trainer.purchase.bundle import buy_bundle
from client_trainer.purchase.session import TeacherSession
from client_trainer.purchase.tracker import Query
from client_trainer.train.distributed import Ranks
from shared.schemas import Modality


def buy_once(
    session: TeacherSession, task: TaskSplit, needs: TeacherNeeds, config: RunConfig, ranks: Ranks
) -> TeacherBundle:
    """`buy_bundle` on rank 0 (and in one process); the other ranks read its purchase."""
    if ranks.is_main:
        bundle = buy_bundle(session, task, needs, config)
        ranks.barrier()
    else:
        ranks.barrier()
        with session.cache_only():
            bundle = buy_bundle(session, task, needs, config)
    if bundle.train.kind != "per-step" or not ranks.active:
        return bundle
    shares = StepShares(session, ranks, in_turn=config.teacher.cap is not None)
    return replace(bundle, train=replace(bundle.train, buy=shares))


def digest(key: str) -> int:
    """A content key (sha256 hex) as an int64, to swap keys between ranks as a tensor."""
    return int(key[:15], 16)


@dataclass(frozen=True)
class StepShares:
    """The per-step `buy` of one rank: (B/W, 3, S, S) uint8 -> (B/W, D) embeddings."""

    session: TeacherSession
    ranks: Ranks
    in_turn: bool  # a spend cap: the ranks buy one after another

    def owned(self, items: list[Query]) -> list[Query]:
        """The items no lower rank has in its share this step: this rank buys those."""
        digests = torch.tensor([digest(q.key) for q in items], dtype=torch.long)
        lower = set(self.ranks.gather(digests)[: self.ranks.rank].flatten().tolist())
        return [q for q, d in zip(items, digests.tolist(), strict=True) if d not in lower]

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        items = self.session.per_step_queries(pixels)
        mine = self.owned(items)
        for turn in range(self.ranks.world_size if self.in_turn else 1):
            if mine and (not self.in_turn or turn == self.ranks.rank):
                self.session.acquire(Modality.IMAGE, mine, "per-step")
            self.ranks.barrier()  # every share of the step is bought and cached
        return self.session.read(items, "per-step")
