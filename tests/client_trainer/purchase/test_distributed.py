"""Per-step purchases under torchrun against a live vendor: the same bytes in two ranks'
shares are paid once, and with a spend cap the ranks buy in turn so the cap holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from client_trainer.config import TeacherConfig
from client_trainer.purchase.distributed import StepShares
from client_trainer.purchase.session import TeacherSession
from client_trainer.purchase.tracker import SpendCapReached
from client_trainer.train.distributed import launched
from tests.support.live_vendor import LiveVendor
from tests.support.ranks import spawn_ranks

IMAGE_PRICE = 10  # the test vendor's list price per image
RUN = "shares"


def _teacher(vendor: LiveVendor, redis_url: str, prefix: str, **extra: Any) -> dict[str, Any]:
    _, api_key = vendor.create_key(100_000)
    fields = {"vendor_url": vendor.base_url, "api_key": api_key, "redis_url": redis_url}
    return fields | {"redis_prefix": prefix} | extra


def _views() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, 3, 16, 16), generator=gen, dtype=torch.uint8)


def _buy_shares(teacher: dict[str, Any], picks: list[list[int]], out: Path) -> None:
    config = TeacherConfig.model_validate(teacher)
    with launched("cpu", 2) as ranks, TeacherSession(config, RUN) as session:
        shares = StepShares(session, ranks, in_turn=config.cap is not None)
        torch.save(shares(_views()[picks[ranks.rank]]), out / f"rank{ranks.rank}.pt")


@pytest.mark.slow  # two processes and a vendor (~35 s on 2 cores)
@pytest.mark.timeout(120)
def test_bytes_in_two_ranks_shares_are_bought_once(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    teacher = _teacher(vendor, redis_url, redis_prefix)
    spawn_ranks(_buy_shares, 2, teacher, [[0, 1], [1, 2]], tmp_path)  # view 1 on both ranks
    first, second = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert first.shape == second.shape == (2, 32)
    assert torch.equal(first[1], second[0])
    with TeacherSession(TeacherConfig.model_validate(teacher), RUN) as session:
        record = session.record()
    assert (record.images, record.cost, record.cache_hits) == (3, 3 * IMAGE_PRICE, 0)


@pytest.mark.slow  # two more processes (~20 s on 2 cores)
@pytest.mark.timeout(120)
def test_with_a_cap_the_ranks_buy_in_turn_and_the_cap_holds(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    teacher = _teacher(vendor, redis_url, redis_prefix, cap=2 * IMAGE_PRICE + 5)
    with pytest.raises(Exception, match=SpendCapReached.__name__):
        spawn_ranks(_buy_shares, 2, teacher, [[0, 1], [2, 2]], tmp_path)
    with TeacherSession(TeacherConfig.model_validate(teacher), RUN) as session:
        record = session.record()
    assert (record.images, record.cost) == (2, 2 * IMAGE_PRICE)  # rank 0's; rank 1 stopped
