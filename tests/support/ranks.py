"""Run a function in N local processes joined by a gloo process group, as torchrun would.

Each process gets the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT), so `client_trainer.train.distributed.launched` inside it joins the group exactly
as under `torchrun --standalone`. A process that raises makes `spawn_ranks` raise here, after
the others are stopped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp

from tests.support.live_vendor import free_port


def _rank_main(
    rank: int, world_size: int, port: int, target: Callable[..., None], args: tuple[Any, ...]
) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    torch.set_num_threads(1)
    target(*args)


def spawn_ranks(target: Callable[..., None], world_size: int, *args: Any) -> None:
    """`target(*args)` in `world_size` fresh processes (module-level, picklable `target`)."""
    mp.spawn(_rank_main, args=(world_size, free_port(), target, args), nprocs=world_size)
