"""CLIP image preprocessing in PIL + numpy: shortest side to S (bicubic), centre crop, normalise.

Same recipe as open_clip's default eval transform, without torchvision's per-call overhead.
Split in two: per image, `__call__` resizes and crops to a (3, S, S) uint8 tensor (a quarter
of the bytes of floats to queue, batch, send to a model process or a GPU); per batch,
`normalize` turns it into CLIP-normalised floats in one vectorised op on the model's device.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
# Resize-then-crop may build at most this many S x S squares; beyond it (extreme aspect
# ratios) only the cropped region is resampled. Ordinary photos stay on the exact recipe.
MAX_INTERMEDIATE_SQUARES = 16


class ClipPreprocess:
    def __init__(
        self,
        image_size: int,
        mean: tuple[float, ...] = OPENAI_MEAN,
        std: tuple[float, ...] = OPENAI_STD,
    ) -> None:
        self.size = image_size
        # Folded into one multiply-add: (x / 255 - mean) / std == x * scale + shift.
        std_arr = np.asarray(std, dtype=np.float32)
        self.scale = (1.0 / (255.0 * std_arr)).reshape(3, 1, 1)
        self.shift = (-np.asarray(mean, dtype=np.float32) / std_arr).reshape(3, 1, 1)

    def resize_crop(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        ratio = self.size / min(width, height)
        new_w, new_h = max(self.size, round(width * ratio)), max(self.size, round(height * ratio))
        left, top = (new_w - self.size) // 2, (new_h - self.size) // 2
        if new_w * new_h > MAX_INTERMEDIATE_SQUARES * self.size * self.size:
            return self._resize_crop_region(image, (new_w, new_h), (left, top))
        if (new_w, new_h) != (width, height):
            image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
        if (new_w, new_h) != (self.size, self.size):
            image = image.crop((left, top, left + self.size, top + self.size))
        return image

    def _resize_crop_region(
        self, image: Image.Image, resized: tuple[int, int], corner: tuple[int, int]
    ) -> Image.Image:
        """Resize only the source region that lands in the crop (PIL's `box`; the filter
        still reads its neighbours): a ~1 kB PNG of 1 x 200000 pixels, within every input
        limit, would otherwise become an S x 200000*S intermediate of gigabytes."""
        (width, height), (left, top) = image.size, corner
        sx, sy = width / resized[0], height / resized[1]  # source pixels per resized pixel
        box = (left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy)
        return image.resize((self.size, self.size), Image.Resampling.BICUBIC, box=box)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """RGB image -> (3, S, S) uint8, resized and centre-cropped (not yet normalised)."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        pixels = np.asarray(self.resize_crop(rgb), dtype=np.uint8)
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))

    def normalize(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) uint8 -> float32 (x / 255 - mean) / std, on the batch's device."""
        scale = torch.from_numpy(self.scale).to(batch.device)
        shift = torch.from_numpy(self.shift).to(batch.device)
        return batch.float() * scale + shift
