from __future__ import annotations

import numpy as np
import pytest
import torch

from client_trainer.registry import UnknownName
from client_trainer.selection import STRATEGIES, select

LABELS = np.repeat(np.arange(4), [10, 10, 10, 2])
FEATURES = torch.randn(len(LABELS), 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("n", [0, 1, 7, 31])
def test_every_strategy_returns_n_unique_indices(name: str, n: int) -> None:
    chosen = select(name, LABELS, FEATURES, n, seed=3)
    assert len(chosen) == n == len(set(chosen.tolist()))
    assert chosen.min(initial=0) >= 0 and chosen.max(initial=0) < len(LABELS)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_deterministic_per_seed(name: str) -> None:
    a = select(name, LABELS, FEATURES, 9, seed=1)
    assert np.array_equal(a, select(name, LABELS, FEATURES, 9, seed=1))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_budget_at_or_over_pool_takes_everything(name: str) -> None:
    assert np.array_equal(select(name, LABELS, FEATURES, 99, seed=0), np.arange(len(LABELS)))


def test_class_balanced_spreads_over_classes() -> None:
    counts = np.bincount(LABELS[select("class-balanced", LABELS, None, 8, seed=0)], minlength=4)
    assert counts.tolist() == [2, 2, 2, 2]
    # the small class runs out; the others keep filling to exactly n
    counts = np.bincount(LABELS[select("class-balanced", LABELS, None, 20, seed=0)], minlength=4)
    assert counts.sum() == 20 and counts[3] == 2 and counts[:3].min() >= 5


def test_k_center_covers_separated_clusters_first() -> None:
    centres = torch.eye(4) * 10
    features = torch.cat([centres[c].repeat(5, 1) + 0.01 * torch.randn(5, 4) for c in range(4)])
    labels = np.repeat(np.arange(4), 5)
    chosen = select("k-center", labels, features, 4, seed=0)
    assert sorted(labels[chosen].tolist()) == [0, 1, 2, 3]


def test_k_center_needs_features_and_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="features"):
        select("k-center", LABELS, None, 3, seed=0)
    with pytest.raises(UnknownName, match="unknown selection strategy"):
        select("nope", LABELS, None, 3, seed=0)
