"""Small open_clip architectures of our own, registered with open_clip's config registry.

- `tiny-clip-test`: a ~2M-parameter model with random weights, for tests.
- `tiny-vit-test`, `tiny-vit-test-quickgelu`: a one-layer ViT CLIP (32 px, width 64) with GELU
  and with OpenAI's QuickGELU, for the weights-loading tests (OpenAI's layout, `-quickgelu`).
- `bench-clip-64`: a small ViT (64 px, 4 layers, width 192), ~1,000 images/s on 2 CPU cores,
  for the serving benchmark.
Each `<name>.json` here becomes a model name for `open_clip.create_model_and_transforms`.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
_registered = False


def register_model_configs() -> None:
    """Make every config in this folder known to open_clip (idempotent)."""
    global _registered
    if _registered:
        return
    import open_clip

    open_clip.add_model_config(CONFIG_DIR)
    _registered = True
