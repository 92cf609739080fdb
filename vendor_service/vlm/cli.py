"""`python -m vendor_service train-vlm`: train (or reuse) the offline world's teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train_vlm_command(
    artifacts: Annotated[
        Path | None,
        typer.Option(envvar="ARTIFACTS_DIR", help="Artefact cache root (default ./artifacts)."),
    ] = None,
    profile: Annotated[
        str, typer.Option(help="Size: full (the demo's), micro (tests), paper (= full).")
    ] = "full",
) -> None:
    """Train the vendor's own small CLIP on the offline world's captions (cached by config
    hash; a second call reuses it) and print the checkpoint path. `serve` then loads it by
    default (VENDOR_MODEL=world-clip, VENDOR_PRETRAINED=world)."""
    import logging

    from vendor_service.vlm import train_vlm
    from vendor_service.vlm.profiles import vlm_profile

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    path = train_vlm(vlm_profile(profile), artifacts)
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("train-vlm")(train_vlm_command)
