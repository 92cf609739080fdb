"""Training under torchrun: DistributedDataParallel, one global batch, rank 0 in charge.

`torchrun --nproc_per_node=N -m client_trainer train ...` (or `--nnodes`/`--rdzv-endpoint`
across machines) starts N copies of the command with RANK, WORLD_SIZE and LOCAL_RANK in their
environment. `launched` sees them, joins the process group (NCCL on CUDA, each rank on
cuda:LOCAL_RANK; gloo on the CPU) and leaves it when the run ends or fails. Without them (a
plain `python -m client_trainer train`) it joins nothing and the run is one process.

- Data: every rank draws the same seeded global batch (order, augmentation parameters, views)
  and keeps its share of each source domain's rows (`Ranks.rows`): the global batch is the
  configured one, whatever the number of ranks.
- Gradient: DDP averages it over the ranks (`Ranks.wrap`). A loss that averages over "rows
  with a target" divides by `mean_denominator`, so the average is the one-process gradient;
  BatchNorm in train mode normalises over the global batch (`train.global_batchnorm`).
- Rank 0 alone evaluates, selects, averages weights (SWAD) and writes. Each stage's DDP wrap
  starts every rank from rank 0's weights (DDP broadcasts them), so the others never need
  their own selection. Randomness that must differ per rank (dropout) comes from a per-rank
  seed (`Ranks.seed`); rank 0 keeps the run's seed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from client_trainer.train.device import pick_device
from client_trainer.train.global_batchnorm import WithGlobalBatchStatistics

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# A training step's collectives; rank 0's evaluations between steps fit well inside.
COLLECTIVE_TIMEOUT = timedelta(minutes=30)
# The others waiting for rank 0: its purchase before training, its last evaluation and writes.
WAIT_TIMEOUT = timedelta(hours=24)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run; the defaults are a one-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    waiting: dist.ProcessGroup | None = None  # gloo, WAIT_TIMEOUT; None outside torchrun

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Under torchrun (a process group is up), even with one rank."""
        return self.waiting is not None

    def barrier(self) -> None:
        """Every rank waits here until all have come (a no-op in one process)."""
        if self.waiting is not None:
            dist.barrier(group=self.waiting)

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """(W, *shape): every rank's CPU tensor of the same shape, in rank order."""
        if self.waiting is None:
            return values.unsqueeze(0)
        parts = [torch.empty_like(values) for _ in range(self.world_size)]
        dist.all_gather(parts, values, group=self.waiting)
        return torch.stack(parts)

    def average(self, value: torch.Tensor) -> torch.Tensor:
        """The mean over the ranks of a per-rank value (the value itself in one process):
        a loss averaged so is the global batch's loss."""
        if not self.active:
            return value
        total = value.detach().clone()
        dist.all_reduce(total)
        return total / self.world_size

    def seed(self, run_seed: int) -> int:
        """This rank's seed for the global random stream: the run's on rank 0, derived from it
        elsewhere (data order and augmentation have their own shared generator)."""
        if self.rank == 0:
            return run_seed
        digest = hashlib.sha256(f"{run_seed}:rank:{self.rank}".encode()).digest()
        return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)

    def rows(self, total: int, batch_per_domain: int) -> torch.Tensor | None:
        """This rank's rows of a global batch of `total` rows, `batch_per_domain` per domain:
        the rank-th equal slice of each domain's block; None when there is one rank."""
        if self.world_size == 1:
            return None
        share = batch_per_domain // self.world_size
        starts = torch.arange(0, total, batch_per_domain) + self.rank * share
        return (starts[:, None] + torch.arange(share)).flatten()

    def wrap(self, module: nn.Module) -> nn.Module:
        """`module` as DDP with global-batch BatchNorm under torchrun; itself otherwise. DDP
        broadcasts rank 0's parameters and buffers when it wraps."""
        if not self.active:
            return module
        ids = [self.device] if self.device.type == "cuda" else None
        return DistributedDataParallel(WithGlobalBatchStatistics(module), device_ids=ids)


_current = Ranks()


def current() -> Ranks:
    """The run this process belongs to (one process unless inside `launched` under torchrun)."""
    return _current


def torchrun_env() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) when torchrun started this process, else None."""
    if not all(name in os.environ for name in TORCHRUN_VARIABLES):
        return None
    rank, world, local = (int(os.environ[name]) for name in TORCHRUN_VARIABLES)
    return rank, world, local


def is_main_process() -> bool:
    """Rank 0 of a torchrun, or a process torchrun did not start (what prints a summary)."""
    env = torchrun_env()
    return env is None or env[0] == 0


def check_batch(batch_per_domain: int, world_size: int) -> None:
    if batch_per_domain % world_size:
        raise ValueError(
            f"train.batch_per_domain {batch_per_domain} does not split over {world_size}"
            " processes: each takes an equal share of every domain's rows, so it must be a"
            f" multiple of {world_size}"
        )


def _rank_device(wanted: str, local_rank: int) -> torch.device:
    device = pick_device(wanted)
    if device.type != "cuda":
        return device
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} visible;"
            " start at most that many processes per node (--nproc_per_node)"
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


@contextmanager
def launched(wanted_device: str, batch_per_domain: int) -> Iterator[Ranks]:
    """The run's `Ranks` (current() meanwhile). Under torchrun it joins the process group
    first and destroys it on the way out, error or not: a rank that fails exits, and torchrun
    stops the others."""
    global _current
    env = torchrun_env()
    if env is None:
        ranks = Ranks(device=pick_device(wanted_device))
    else:
        rank, world, local = env
        check_batch(batch_per_domain, world)
        device = _rank_device(wanted_device, local)
        backend = "nccl" if device.type == "cuda" else "gloo"
        on_gpu = device if device.type == "cuda" else None
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT, device_id=on_gpu)
    try:
        if env is not None:
            waiting = dist.new_group(backend="gloo", timeout=WAIT_TIMEOUT)
            assert isinstance(waiting, dist.ProcessGroup)  # every rank is a member
            ranks = Ranks(rank, world, local, device, waiting)
        _current = ranks
        yield ranks
    finally:
        _current = Ranks()
        if env is not None:
            dist.destroy_process_group()


def mean_denominator(local_count: torch.Tensor) -> torch.Tensor:
    """What a mean over "rows with a target" divides its local sum by, so that the
    DDP-averaged gradient equals the one-process gradient on the global batch.

    One process: `local_count`. Under torchrun: global_count / W, where global_count is the
    count summed over the ranks (DDP then averages the W local gradients)."""
    ranks = current()
    if not ranks.active:
        return local_count
    total = local_count.detach().float().clone()
    dist.all_reduce(total)
    return total / ranks.world_size
