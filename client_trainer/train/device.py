"""Device choice, CPU threads and seeding: one seed fixes the whole run."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def pick_device(wanted: str) -> torch.device:
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def set_threads(threads: int | None) -> None:
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
