"""Registry of selection strategies: random, class-balanced, k-center greedy core-set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from client_trainer.registry import Registry

# (labels (N,), features (N, D) or None, n, seed) -> unique indices, len == n (n < N)
SelectionStrategy = Callable[[np.ndarray, torch.Tensor | None, int, int], np.ndarray]


@dataclass(frozen=True)
class Strategy:
    pick: SelectionStrategy
    needs_features: bool  # picks on the pretrained student's features of the pool


STRATEGIES: Registry[Strategy] = Registry("selection strategy")


def register_strategy(
    name: str, needs_features: bool = False
) -> Callable[[SelectionStrategy], SelectionStrategy]:
    """Function decorator: registers a strategy under `name` (what `teacher.selection` takes)."""

    def add(pick: SelectionStrategy) -> SelectionStrategy:
        STRATEGIES.register(name)(Strategy(pick, needs_features))
        return pick

    return add


def get_strategy(name: str) -> Strategy:
    return STRATEGIES[name]


def select(
    name: str, labels: np.ndarray, features: torch.Tensor | None, n: int, seed: int
) -> np.ndarray:
    """Indices of the `n` images to buy (all of them when n >= pool size)."""
    strategy = get_strategy(name)
    if n < 0:
        raise ValueError(f"cannot select a negative number of images ({n})")
    if n >= len(labels):
        return np.arange(len(labels))
    chosen = strategy.pick(labels, features, n, seed)
    return np.sort(np.asarray(chosen, dtype=np.int64))
