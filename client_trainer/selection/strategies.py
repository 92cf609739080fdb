"""The selection strategies themselves; each is a pure function of (labels, features, n, seed),
registered under the name `teacher.selection` takes."""

from __future__ import annotations

import numpy as np
import torch

from client_trainer.selection.registry import register_strategy


@register_strategy("random")
def random_subset(
    labels: np.ndarray, features: torch.Tensor | None, n: int, seed: int
) -> np.ndarray:
    """Uniformly at random, without replacement."""
    return np.random.default_rng(seed).choice(len(labels), size=n, replace=False)


@register_strategy("class-balanced")
def class_balanced(
    labels: np.ndarray, features: torch.Tensor | None, n: int, seed: int
) -> np.ndarray:
    """As equal a number per class as the classes allow, random within each class.

    Round-robin over classes in a seeded order; a class that runs out of images drops out and
    the others keep filling, so exactly `n` come back.
    """
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)]
    order = rng.permutation(len(pools))
    chosen: list[int] = []
    while len(chosen) < n:
        for c in order:
            if pools[c] and len(chosen) < n:
                chosen.append(int(pools[c].pop()))
    return np.asarray(chosen)


@register_strategy("k-center", needs_features=True)
def k_center_greedy(
    labels: np.ndarray, features: torch.Tensor | None, n: int, seed: int
) -> np.ndarray:
    """Core-set: repeatedly take the point farthest from everything chosen so far.

    `features` are the student's pretrained features (N, D), L2-normalised here, so distance
    is cosine distance. Greedy 2-approximation of the k-center problem (Sener & Savarese 2018).
    """
    if features is None:
        raise ValueError("k-center selection needs the student's pretrained features")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x = torch.nn.functional.normalize(features.float(), dim=1)
    first = int(np.random.default_rng(seed).integers(len(labels)))
    chosen = [first]
    # (N,) distance of every point to its nearest chosen centre
    nearest = torch.cdist(x, x[first : first + 1]).squeeze(1)
    for _ in range(n - 1):
        nearest[chosen[-1]] = -1.0
        nxt = int(torch.argmax(nearest))
        chosen.append(nxt)
        nearest = torch.minimum(nearest, torch.cdist(x, x[nxt : nxt + 1]).squeeze(1))
    return np.asarray(chosen)
