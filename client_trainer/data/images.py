"""Images decoded once into one in-memory uint8 tensor.

Small data sets (the offline world, PACS at 64 px) fit in memory many times over, and batched
tensor augmentation beats per-image PIL work in DataLoader workers on two cores.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IN_MEMORY_LIMIT = 4 << 30  # decoded bytes kept in RAM; beyond, a memmap on disk


@dataclass(frozen=True)
class ImageSet:
    """A list of images: pixels (N, 3, S, S) uint8, labels (N,), domain ids (N,), source paths."""

    pixels: torch.Tensor
    labels: torch.Tensor
    domain_ids: torch.Tensor
    paths: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, indices: list[int]) -> ImageSet:
        index = torch.as_tensor(indices, dtype=torch.long)
        return ImageSet(
            self.pixels[index],
            self.labels[index],
            self.domain_ids[index],
            tuple(self.paths[i] for i in indices),
        )


def _decode(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def _pixel_buffer(count: int, size: int) -> np.ndarray:
    """RAM for small sets; above IN_MEMORY_LIMIT a disk-backed memmap (DomainNet at 224 px
    is ~90 GB decoded), read back batch by batch through the same indexing."""
    shape = (count, 3, size, size)
    if count * size * size * 3 <= IN_MEMORY_LIMIT:
        return np.empty(shape, dtype=np.uint8)
    descriptor, name = tempfile.mkstemp(prefix="pixels-", suffix=".npy")
    os.close(descriptor)
    buffer = np.lib.format.open_memmap(name, mode="w+", dtype=np.uint8, shape=shape)
    Path(name).unlink()  # the mapping outlives the name; nothing is left behind
    return buffer


Tick = Callable[[int], None]  # images just decoded


def load_images(
    paths: list[Path],
    labels: list[int],
    domains: list[int],
    size: int,
    tick: Tick | None = None,
) -> ImageSet:
    """Decode and resize every image to (size, size) once (the evaluation transform)."""
    pixels = _pixel_buffer(len(paths), size)
    for i, path in enumerate(paths):
        pixels[i] = _decode(path, size).transpose(2, 0, 1)
        if tick is not None and (i % 256 == 255 or i == len(paths) - 1):
            tick(i % 256 + 1)
    return ImageSet(
        torch.from_numpy(pixels),
        torch.as_tensor(labels, dtype=torch.long),
        torch.as_tensor(domains, dtype=torch.long),
        tuple(paths),
    )
