"""`VENDOR_PRETRAINED=world`: the offline world's own teacher, trained by `train-vlm`.

The checkpoint lives in the artefact cache (`$ARTIFACTS_DIR`, default ./artifacts) under a
hash of the default training config, so `serve` finds exactly what `train-vlm` wrote.
"""

from __future__ import annotations

from pathlib import Path

from shared.world.artifacts import MANIFEST, artifact_dir, default_root

WORLD = "world"


class MissingWorldCheckpoint(FileNotFoundError):
    """The world teacher was asked for but has not been trained yet."""


def world_checkpoint(root: Path | None = None) -> Path:
    """Path of the trained world teacher, or `MissingWorldCheckpoint` saying what to run."""
    from vendor_service.vlm.config import VLMTrainConfig
    from vendor_service.vlm.train import CHECKPOINT, KIND

    directory = artifact_dir(root or default_root(), KIND, VLMTrainConfig())
    if not (directory / MANIFEST).is_file():
        raise MissingWorldCheckpoint(
            f"the offline world's teacher is not trained yet (looked in {directory}); run "
            "`python -m vendor_service train-vlm` first, or set VENDOR_MODEL/VENDOR_PRETRAINED"
        )
    return directory / CHECKPOINT


def resolve_pretrained(pretrained: str) -> str:
    """open_clip's `pretrained` argument for a setting: `world` becomes the checkpoint path."""
    return str(world_checkpoint()) if pretrained == WORLD else pretrained
