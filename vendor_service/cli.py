"""`python -m vendor_service serve | keys create|show|topup|revoke|migrate`: thin calls into the
library."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from vendor_service.errors import VendorError
from vendor_service.metering import accounts
from vendor_service.settings import Settings, SettingsError, settings_reference
from vendor_service.settings import load_settings as _load_settings
from vendor_service.vlm.cli import register as register_vlm_commands

app = typer.Typer(help="The CLIP embedding vendor.", no_args_is_help=True)
keys = typer.Typer(help="Manage API keys directly in the ledger.", no_args_is_help=True)
app.add_typer(keys, name="keys")
register_vlm_commands(app)  # train-vlm


class _ServeCommand(TyperCommand):
    """`serve --help` ends with every setting: its environment variable, one line of help and
    its default, generated from `Settings` (a new setting shows up without touching this)."""

    # Typer passes its own (vendored) click's Context and HelpFormatter; only their public
    # click API is used here: `section` and `write_dl`.
    def format_help(self, ctx: Any, formatter: Any) -> None:
        super().format_help(ctx, formatter)
        rows = [(row.env, f"{row.summary} [default: {row.default}]")
                for row in settings_reference()]  # fmt: skip
        with formatter.section("Settings (environment variables)"):
            formatter.write_dl(rows, col_max=34)


@app.command(cls=_ServeCommand)
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the REST API with uvicorn (VENDOR_WORKERS worker processes, default one per GPU).

    Everything else is set in the environment: the settings below."""
    import uvicorn

    from vendor_service.engine.devices import gpu_count, use_device, worker_count, worker_device
    from vendor_service.server.app import create_app
    from vendor_service.server.process import configure_process, default_torch_threads
    from vendor_service.server.workers import run_workers

    settings = load_settings()
    check_weights(settings)
    gpus = gpu_count()
    workers = worker_count(settings, gpus)
    threads = settings.torch_threads or default_torch_threads(workers)
    settings = settings.model_copy(update={"torch_threads": threads, "workers": workers})
    configure_process(settings)
    if workers > 1:
        raise typer.Exit(run_workers(settings, host, port, gpus))
    settings = settings.model_copy(update={"device": worker_device(settings, 0, gpus)})
    use_device(settings.device)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)


def check_weights(settings: Settings) -> None:
    """Refuse to start, in one line, when the weights are missing or do not fit the model: the
    world teacher never trained, a path that does not exist, an unknown tag, QuickGELU weights
    on a GELU architecture, a file with missing, unexpected or wrongly shaped keys."""
    from vendor_service.engine.teacher_weights import check_teacher_weights
    from vendor_service.vlm.weights import MissingWorldCheckpoint

    try:
        check_teacher_weights(settings.model, settings.pretrained)
    except (MissingWorldCheckpoint, SettingsError) as exc:
        typer.echo(f"cannot serve: {exc}", err=True)
        raise typer.Exit(2) from exc


def load_settings() -> Settings:
    """Settings from the environment, or a one-line reason why they cannot start anything."""
    from pydantic import ValidationError

    try:
        return _load_settings()
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        typer.echo(f"invalid settings: {reasons}", err=True)
        raise typer.Exit(2) from exc


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


@keys.command("migrate")
def keys_migrate() -> None:
    """Move accounts kept under untagged key names (<prefix>key:<id>) to the tagged ones the
    ledger reads ({<id>}); holds in flight are refunded. Run with the vendor stopped."""
    migrated = _run(accounts.migrate_ledger(load_settings()))
    typer.echo(json.dumps(dataclasses.asdict(migrated)))  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> None:
    app(args=argv)
