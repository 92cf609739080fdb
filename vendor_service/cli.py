"""`python -m vendor_service serve | keys create|show|topup|revoke`: thin calls into the library."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Annotated

import typer

from vendor_service import accounts
from vendor_service.errors import VendorError
from vendor_service.settings import Settings
from vendor_service.settings import load_settings as _load_settings

app = typer.Typer(help="The CLIP embedding vendor.", no_args_is_help=True)
keys = typer.Typer(help="Manage API keys directly in the ledger.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the REST API with uvicorn."""
    import uvicorn

    from vendor_service.app import create_app

    settings = load_settings()
    # The event loop, the inference thread and the decode threads share the GIL: a shorter
    # switch interval (default 5 ms) keeps a busy thread from stalling the loop for long.
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    if settings.torch_threads == 0:
        settings = settings.model_copy(update={"torch_threads": default_torch_threads()})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)


def load_settings() -> Settings:
    """Settings from the environment, or a one-line reason why they cannot start anything."""
    from pydantic import ValidationError

    try:
        return _load_settings()
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        typer.echo(f"invalid settings: {reasons}", err=True)
        raise typer.Exit(2) from exc


def default_torch_threads() -> int:
    """On CPU, leave one core to the event loop and decoding (OpenMP threads that compete
    with them for cores spin at barriers and slow the forward down several times)."""
    return max(1, (os.cpu_count() or 2) - 1)


def _print(model: object) -> None:
    typer.echo(model.model_dump_json(indent=2))  # type: ignore[attr-defined]


def _run(coro: object) -> object:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except VendorError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@keys.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who the key is for.")],
    budget: Annotated[int, typer.Option(min=0, help="Credits on the key.")],
) -> None:
    """Create a key; prints the secret once."""
    _print(_run(accounts.create_key(load_settings(), name, budget)))


@keys.command("show")
def keys_show(key_id: str) -> None:
    """Budget, spend and counts of a key."""
    _print(_run(accounts.show_key(load_settings(), key_id)))


@keys.command("topup")
def keys_topup(key_id: str, amount: Annotated[int, typer.Option(min=1)]) -> None:
    """Add credits to a key's budget."""
    _print(_run(accounts.topup_key(load_settings(), key_id, amount)))


@keys.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key, effective at once."""
    _print(_run(accounts.revoke_key(load_settings(), key_id)))


def main(argv: list[str] | None = None) -> None:
    app(args=argv)
