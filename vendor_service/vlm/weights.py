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


def world_checkpoint(root: Path | None = None, profile: str = "full") -> Path:
    """Path of the trained world teacher, or `MissingWorldCheckpoint` saying what to run."""
    from vendor_service.vlm.profiles import vlm_profile
    from vendor_service.vlm.train import CHECKPOINT, KIND

    directory = artifact_dir(root or default_root(), KIND, vlm_profile(profile))
    if not (directory / MANIFEST).is_file():
        raise MissingWorldCheckpoint(
            f"the offline world's teacher is not trained yet (looked in {directory}); run "
            "`python -m vendor_service train-vlm` first, or set VENDOR_MODEL/VENDOR_PRETRAINED"
        )
    return directory / CHECKPOINT


def resolve_pretrained(pretrained: str) -> str:
    """open_clip's `pretrained` argument for a setting: `world` (or `world:<profile>`)
    becomes the trained checkpoint's path; anything else is passed through."""
    name, _, profile = pretrained.partition(":")
    if name != WORLD:
        return pretrained
    return str(world_checkpoint(profile=profile or "full"))
