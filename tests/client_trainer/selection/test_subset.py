"""Which training images a budgeted run buys: each selection strategy, seeded, exact size."""

from __future__ import annotations

import pytest
import torch

from client_trainer.config import RunConfig
from client_trainer.data.splits import load_task
from client_trainer.registry import UnknownName
from client_trainer.selection import STRATEGIES
from client_trainer.selection.subset import bought_subset


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_bought_subset_follows_the_strategy(quick: RunConfig, strategy: str) -> None:
    config = quick.with_overrides({"teacher.image_fraction": 0.3, "teacher.selection": strategy})
    train = load_task(config.data, config.train.seed).train
    mask = bought_subset(train, config)
    assert mask is not None and mask.dtype == torch.bool
    assert int(mask.sum()) == round(0.3 * len(train))
    again = bought_subset(train, config)
    assert again is not None and torch.equal(mask, again)  # seeded


def test_class_balanced_buys_every_class(quick: RunConfig) -> None:
    config = quick.with_overrides(
        {"teacher.image_fraction": 0.2, "teacher.selection": "class-balanced"}
    )
    train = load_task(config.data, config.train.seed).train
    mask = bought_subset(train, config)
    assert mask is not None
    assert set(train.labels[mask].tolist()) == set(train.labels.tolist())


def test_full_budget_buys_everything(quick: RunConfig) -> None:
    train = load_task(quick.data, 0).train
    assert bought_subset(train, quick) is None


def test_unknown_strategy_is_refused(quick: RunConfig) -> None:
    with pytest.raises(UnknownName, match="unknown selection strategy"):
        quick.with_overrides({"teacher.selection": "magic"})
