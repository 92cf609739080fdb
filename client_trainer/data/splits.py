"""Leave-one-domain-out with a seeded holdout of each source domain (DomainBed protocol)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from client_trainer.config import DataConfig
from client_trainer.data.domainbed import DataError, DatasetIndex, scan_dataset
from client_trainer.data.images import ImageSet, Tick, load_images


@dataclass(frozen=True)
class TaskSplit:
    """Train (sources minus holdout), holdout (ID validation only) and target (OOD test)."""

    classes: tuple[str, ...]
    source_domains: tuple[str, ...]
    test_domain: str
    train: ImageSet
    holdout: ImageSet
    target: ImageSet


def _split_indices(
    index: DatasetIndex, test_domain: str, fraction: float, seed: int, cap: int | None
) -> tuple[list[int], list[int], list[int]]:
    rng = np.random.default_rng(seed)
    train: list[int] = []
    holdout: list[int] = []
    target: list[int] = []
    for domain in index.domains:
        members = np.asarray(index.indices_of(domain))
        members = rng.permutation(members)
        if cap is not None:
            members = members[:cap]
        if domain == test_domain:
            target.extend(sorted(members.tolist()))
            continue
        n_hold = round(len(members) * fraction)
        holdout.extend(sorted(members[:n_hold].tolist()))
        train.extend(sorted(members[n_hold:].tolist()))
    return train, holdout, target


def _image_set(index: DatasetIndex, chosen: list[int], size: int, tick: Tick | None) -> ImageSet:
    return load_images(
        [index.paths[i] for i in chosen],
        [index.labels[i] for i in chosen],
        [index.domain_ids[i] for i in chosen],
        size,
        tick,
    )


def split_task(
    index: DatasetIndex,
    config: DataConfig,
    seed: int,
    progress: Callable[[int], Tick] | None = None,
    decoded: ImageSet | None = None,
) -> TaskSplit:
    """Split, then decode each part; `progress(total)` gives a tick for the decoding. With
    `decoded` (every image of `index`, in its order) the parts are its subsets instead."""
    test_domain = config.test_domain or index.domains[0]
    if test_domain not in index.domains:
        raise DataError(f"test domain {test_domain!r} is not one of {list(index.domains)}")
    train, holdout, target = _split_indices(
        index, test_domain, config.holdout_fraction, seed, config.max_images_per_domain
    )
    if not train:
        raise DataError("no training images left after the holdout")
    sources = tuple(d for d in index.domains if d != test_domain)
    size = config.image_size
    if decoded is not None:
        parts = (decoded.subset(train), decoded.subset(holdout), decoded.subset(target))
        return TaskSplit(index.classes, sources, test_domain, *parts)
    tick = progress(len(train) + len(holdout) + len(target)) if progress else None
    return TaskSplit(
        index.classes,
        sources,
        test_domain,
        _image_set(index, train, size, tick),
        _image_set(index, holdout, size, tick),
        _image_set(index, target, size, tick),
    )


def load_task(
    config: DataConfig, seed: int, progress: Callable[[int], Tick] | None = None
) -> TaskSplit:
    return split_task(scan_dataset(config.root, config.dataset), config, seed, progress)
