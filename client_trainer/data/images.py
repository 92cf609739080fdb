"""Images decoded once into one in-memory uint8 tensor, plus the exact bytes the teacher sees.

Small data sets (the offline world, PACS at 64 px) fit in memory many times over, and batched
tensor augmentation beats per-image PIL work in DataLoader workers on two cores.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from shared.codec import encode_png, sniff_format

# Descriptor of what the client sent instead of the file's bytes (non PNG/JPEG/WebP files).
REENCODED_PNG = "reencoded-png"


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


def load_images(paths: list[Path], labels: list[int], domains: list[int], size: int) -> ImageSet:
    """Decode and resize every image to (size, size) once (the evaluation transform)."""
    pixels = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        pixels[i] = _decode(path, size)
    return ImageSet(
        torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(),
        torch.as_tensor(labels, dtype=torch.long),
        torch.as_tensor(domains, dtype=torch.long),
        tuple(paths),
    )


def teacher_bytes(path: Path) -> tuple[bytes, str]:
    """What the vendor is sent for an image file: its exact bytes, or a PNG of it when the
    vendor cannot read the format; plus the preprocessing descriptor that goes into the hash."""
    raw = path.read_bytes()
    if sniff_format(raw) is not None:
        return raw, ""
    with Image.open(io.BytesIO(raw)) as image:
        return encode_png(image.convert("RGB")), REENCODED_PNG
