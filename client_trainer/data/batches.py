"""Seeded training batches: `batch_per_domain` indices from every source domain per step."""

from __future__ import annotations

import torch

from client_trainer.data.images import ImageSet


class DomainBatches:
    """Endless per-domain shuffles (a fresh permutation per pass), concatenated per step."""

    def __init__(self, images: ImageSet, batch_per_domain: int, seed: int) -> None:
        self._gen = torch.Generator().manual_seed(seed)
        self._pools = [
            torch.nonzero(images.domain_ids == d).flatten()
            for d in torch.unique(images.domain_ids).tolist()
        ]
        self._batch = batch_per_domain
        self._queues: list[torch.Tensor] = [torch.empty(0, dtype=torch.long) for _ in self._pools]
        self.generator = self._gen  # shared by augmentation, so one seed fixes the whole run

    def _take(self, slot: int) -> torch.Tensor:
        pool, taken = self._pools[slot], []
        need = self._batch
        while need > 0:
            if len(self._queues[slot]) == 0:
                self._queues[slot] = pool[torch.randperm(len(pool), generator=self._gen)]
            part = self._queues[slot][:need]
            self._queues[slot] = self._queues[slot][need:]
            taken.append(part)
            need -= len(part)
        return torch.cat(taken)

    def next(self) -> torch.Tensor:
        """Indices into the training set for one step."""
        return torch.cat([self._take(slot) for slot in range(len(self._pools))])
