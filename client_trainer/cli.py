"""`python -m client_trainer`: buy, train, evaluate. Each command is a thin call into
`client_trainer.pipeline`; a flag overrides the same field of the `--config` file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from rich.console import Console

from client_trainer.config import RunConfig, load_config
from client_trainer.data.domainbed import DataError
from client_trainer.pipeline import buy_embeddings, evaluate_checkpoint, train_run
from client_trainer.purchase.tracker import SpendCapReached
from client_trainer.registry import UnknownName
from client_trainer.simulation.cli import register as register_simulation
from client_trainer.students.registry import StudentError
from client_trainer.teacher.errors import TeacherError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)

ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="Run config (.toml or .json); flags override it.")
]
VendorUrl = Annotated[
    str | None, typer.Option(envvar="VENDOR_URL", help="Vendor base URL, e.g. http://host:8000.")
]
ApiKey = Annotated[
    str | None, typer.Option(envvar="VENDOR_API_KEY", help="Vendor API key (Bearer).")
]
DataRoot = Annotated[Path | None, typer.Option(help="Folder holding <DATASET>/<domain>/<class>.")]
Dataset = Annotated[str | None, typer.Option(help="Data set folder name, e.g. PACS.")]
TestDomain = Annotated[str | None, typer.Option(help="Held-out target domain (OOD test).")]
ImageSize = Annotated[int | None, typer.Option(help="Student input size in pixels.")]
MaxPerDomain = Annotated[int | None, typer.Option(help="At most N images per domain (seeded).")]
Student = Annotated[str | None, typer.Option(help="Any timm model name.")]
StudentInit = Annotated[str | None, typer.Option(help="Student weights: random, timm or file.")]
StudentModule = Annotated[
    str | None, typer.Option(help="Module to import first (registers timm models).")
]
StudentWeights = Annotated[Path | None, typer.Option(help="Local weight file (init = file).")]
Targets = Annotated[str | None, typer.Option(help="Teacher targets: clean, views:K or per-step.")]
ImageFraction = Annotated[
    float | None, typer.Option(help="Share of training images whose targets are bought.")
]
Selection = Annotated[
    str | None,
    typer.Option(help="Which images --image-fraction buys: random, class-balanced, k-center."),
]
Ensemble = Annotated[
    bool | None, typer.Option("--prompt-ensemble/--single-prompt", help="Prompt ensemble.")
]
Cap = Annotated[int | None, typer.Option(help="Hard spend cap of this run in credits.")]
InFlight = Annotated[int | None, typer.Option(help="Vendor requests in flight at once.")]
PerRequest = Annotated[int | None, typer.Option(help="Inputs per request (<= vendor's limit).")]
RedisUrl = Annotated[
    str | None, typer.Option(envvar="REDIS_URL", help="Client cache Redis (else embedded).")
]
RedisPrefix = Annotated[
    str | None, typer.Option(envvar="CLIENT_REDIS_PREFIX", help="Client Redis key prefix.")
]
Model = Annotated[str | None, typer.Option(help="Vendor model id (default: the first listed).")]
Method = Annotated[str | None, typer.Option(help="zero-shot, erm, lp-ft, kd or vl2v-adip.")]
ErmVariant = Annotated[str | None, typer.Option(help="ERM variant: full or linear-probe.")]
Steps = Annotated[int | None, typer.Option(help="Optimiser steps per stage.")]
Lr = Annotated[float | None, typer.Option(help="Adam learning rate (paper 5e-5).")]
HeadLr = Annotated[float | None, typer.Option(help="Learning rate of head-only stages.")]
BatchPerDomain = Annotated[int | None, typer.Option(help="Images per source domain per step.")]
EvalEvery = Annotated[int | None, typer.Option(help="Evaluate the holdouts every N steps.")]
Lmd = Annotated[float | None, typer.Option(help="ADiP weight of the image term.")]
Swad = Annotated[bool | None, typer.Option("--swad/--no-swad", help="SWAD weight averaging.")]
Seed = Annotated[int | None, typer.Option(help="Seed of everything.")]
Threads = Annotated[int | None, typer.Option(help="torch CPU threads (default 1).")]
Device = Annotated[str | None, typer.Option(help="auto, cpu or cuda.")]
Precision = Annotated[
    str | None,
    typer.Option(help="Training forward: auto (bf16 where the hardware computes it), fp32, bf16."),
]
OutDir = Annotated[Path | None, typer.Option(help="Parent folder of run directories.")]
RunName = Annotated[str | None, typer.Option(help="Run directory and spend-record name.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]


def _config(path: Path | None, overrides: dict[str, Any], quiet: bool) -> RunConfig:
    if quiet:
        overrides["output.progress"] = False
    return load_config(path).with_overrides(overrides)


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


def _teacher(
    url: str | None,
    key: str | None,
    model: str | None,
    targets: str | None,
    ensemble: bool | None,
    cap: int | None,
    in_flight: int | None,
    per_request: int | None,
    redis_url: str | None,
    redis_prefix: str | None,
) -> dict[str, Any]:
    return {
        "teacher.redis_url": redis_url,
        "teacher.redis_prefix": redis_prefix,
        "teacher.vendor_url": url,
        "teacher.api_key": key,
        "teacher.model": model,
        "teacher.targets": targets,
        "teacher.prompt_ensemble": ensemble,
        "teacher.cap": cap,
        "teacher.max_in_flight": in_flight,
        "teacher.max_inputs_per_request": per_request,
    }


def _data(
    root: Path | None,
    dataset: str | None,
    test_domain: str | None,
    size: int | None,
    per_domain: int | None,
) -> dict[str, Any]:
    return {
        "data.root": root,
        "data.dataset": dataset,
        "data.test_domain": test_domain,
        "data.image_size": size,
        "data.max_images_per_domain": per_domain,
    }


@app.command()
def buy(
    config: ConfigFile = None,
    vendor_url: VendorUrl = None,
    api_key: ApiKey = None,
    data_root: DataRoot = None,
    dataset: Dataset = None,
    test_domain: TestDomain = None,
    image_size: ImageSize = None,
    max_per_domain: MaxPerDomain = None,
    targets: Targets = None,
    prompt_ensemble: Ensemble = None,
    cap: Cap = None,
    max_in_flight: InFlight = None,
    per_request: PerRequest = None,
    model: Model = None,
    seed: Seed = None,
    run_name: RunName = None,
    redis_url: RedisUrl = None,
    redis_prefix: RedisPrefix = None,
    quiet: Quiet = False,
) -> None:
    """Pre-purchase teacher embeddings of a data set (prompts + images) under a spend cap."""
    overrides = {
        **_teacher(
            vendor_url,
            api_key,
            model,
            targets,
            prompt_ensemble,
            cap,
            max_in_flight,
            per_request,
            redis_url,
            redis_prefix,
        ),
        **_data(data_root, dataset, test_domain, image_size, max_per_domain),
        "train.seed": seed,
        "output.run_name": run_name,
    }
    try:
        report = buy_embeddings(_config(config, overrides, quiet))
    except (
        TeacherError,
        SpendCapReached,
        DataError,
        StudentError,
        UnknownName,
        ValueError,
        redis.RedisError,
    ) as exc:
        _fail(exc)
    typer.echo(
        json.dumps(
            {
                "run_name": report.run_name,
                "images": report.images,
                "texts": report.texts,
                "spend": report.spend.__dict__,
            }
        )
    )


@app.command()
def train(
    config: ConfigFile = None,
    method: Method = None,
    vendor_url: VendorUrl = None,
    api_key: ApiKey = None,
    data_root: DataRoot = None,
    dataset: Dataset = None,
    test_domain: TestDomain = None,
    image_size: ImageSize = None,
    max_per_domain: MaxPerDomain = None,
    student: Student = None,
    student_init: StudentInit = None,
    student_weights: StudentWeights = None,
    student_module: StudentModule = None,
    image_fraction: ImageFraction = None,
    selection: Selection = None,
    targets: Targets = None,
    prompt_ensemble: Ensemble = None,
    cap: Cap = None,
    max_in_flight: InFlight = None,
    per_request: PerRequest = None,
    model: Model = None,
    erm_variant: ErmVariant = None,
    steps: Steps = None,
    lr: Lr = None,
    head_lr: HeadLr = None,
    batch_per_domain: BatchPerDomain = None,
    eval_every: EvalEvery = None,
    lmd: Lmd = None,
    swad: Swad = None,
    seed: Seed = None,
    device: Device = None,
    precision: Precision = None,
    threads: Threads = None,
    out_dir: OutDir = None,
    run_name: RunName = None,
    redis_url: RedisUrl = None,
    redis_prefix: RedisPrefix = None,
    quiet: Quiet = False,
) -> None:
    """Train (and evaluate) one method on one held-out domain; writes metrics.json."""
    overrides = {
        **_teacher(
            vendor_url,
            api_key,
            model,
            targets,
            prompt_ensemble,
            cap,
            max_in_flight,
            per_request,
            redis_url,
            redis_prefix,
        ),
        **_data(data_root, dataset, test_domain, image_size, max_per_domain),
        "student.name": student,
        "student.init": student_init,
        "student.weights": student_weights,
        "student.module": student_module,
        "teacher.image_fraction": image_fraction,
        "teacher.selection": selection,
        "train.method": method,
        "train.erm_variant": erm_variant,
        "train.steps": steps,
        "train.lr": lr,
        "train.head_lr": head_lr,
        "train.batch_per_domain": batch_per_domain,
        "train.eval_every": eval_every,
        "train.lmd": lmd,
        "train.swad": swad,
        "train.seed": seed,
        "train.device": device,
        "train.precision": precision,
        "train.threads": threads,
        "output.out_dir": out_dir,
        "output.run_name": run_name,
    }
    try:
        result = train_run(_config(config, overrides, quiet))
    except (
        TeacherError,
        SpendCapReached,
        DataError,
        StudentError,
        KeyError,
        ValueError,
        redis.RedisError,
    ) as exc:
        _fail(exc)
    m = result.metrics
    typer.echo(
        json.dumps(
            {
                k: m[k]
                for k in (
                    "method",
                    "test_domain",
                    "id_acc",
                    "ood_acc",
                    "image_queries",
                    "text_queries",
                    "cost",
                    "wall_s",
                )
            }
            | {"run_dir": str(result.directory)}
        )
    )


@app.command()
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="checkpoint.pt of a trained run.")],
    config: ConfigFile = None,
    data_root: DataRoot = None,
    dataset: Dataset = None,
    test_domain: TestDomain = None,
    image_size: ImageSize = None,
    max_per_domain: MaxPerDomain = None,
    seed: Seed = None,
    device: Device = None,
) -> None:
    """ID and OOD accuracy of a saved student (no vendor needed)."""
    overrides = {
        **_data(data_root, dataset, test_domain, image_size, max_per_domain),
        "train.seed": seed,
        "train.device": device,
    }
    try:
        base = load_config(config) if config is not None else None
        scores = evaluate_checkpoint(checkpoint, base, overrides)
    except (DataError, StudentError, UnknownName, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(json.dumps(scores))


register_simulation(app)  # demo, table, sweep-budget, pretrain-student


def main() -> None:
    app()
