"""Registry of selection strategies: random, class-balanced, k-center greedy core-set."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from client_trainer.selection.strategies import class_balanced, k_center_greedy, random_subset

# (labels (N,), features (N, D) or None, n, seed) -> sorted unique indices, len == min(n, N)
SelectionStrategy = Callable[[np.ndarray, torch.Tensor | None, int, int], np.ndarray]

STRATEGIES: dict[str, SelectionStrategy] = {
    "random": random_subset,
    "class-balanced": class_balanced,
    "k-center": k_center_greedy,
}


def get_strategy(name: str) -> SelectionStrategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown selection strategy {name!r}; known: {known}") from None


def select(
    name: str, labels: np.ndarray, features: torch.Tensor | None, n: int, seed: int
) -> np.ndarray:
    """Indices of the `n` images to buy (all of them when n >= pool size)."""
    if n < 0:
        raise ValueError(f"cannot select a negative number of images ({n})")
    if n >= len(labels):
        return np.arange(len(labels))
    chosen = get_strategy(name)(labels, features, n, seed)
    return np.sort(np.asarray(chosen, dtype=np.int64))
