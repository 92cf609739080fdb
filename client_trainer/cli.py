"""`python -m client_trainer`: buy, train, evaluate. Each command is a thin call into
`client_trainer.pipeline`; its flags are generated from the run config's fields, and a flag
overrides the same field of the `--config` file."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import redis
import torch
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from client_trainer.config import RunConfig, load_config
from client_trainer.config_flags import ConfigRequest, pick, run_config_flags
from client_trainer.data.domainbed import DataError
from client_trainer.pipeline import buy_embeddings, evaluate_checkpoint, train_run
from client_trainer.purchase.session import CacheMiss
from client_trainer.purchase.tracker import SpendCapReached
from client_trainer.registry import UnknownName
from client_trainer.simulation.cli import register as register_simulation
from client_trainer.students.registry import StudentError, create_student
from client_trainer.teacher.errors import TeacherError
from client_trainer.train.distributed import is_main_process

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)

# The run-config fields each command takes as flags.
BUY_FLAGS = pick(
    "data", "teacher", "train.seed", "output.run_name", "output.progress",
    without=("teacher.image_fraction", "teacher.selection"),
)  # fmt: skip
TRAIN_FLAGS = pick("*")
EVALUATE_FLAGS = pick("data", "train.seed", "train.device")

# Bad input, a vendor that refuses or cannot be reached, a spend cap: one line and exit code 2.
RUN_ERRORS = (
    TeacherError, SpendCapReached, DataError, StudentError, UnknownName, KeyError, ValueError,
    FileNotFoundError, redis.RedisError, CacheMiss,
)  # fmt: skip


def describe(exc: BaseException) -> str:
    """One readable line; a validation error names each field it refuses."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
    return str(exc)


@contextmanager
def reported() -> Iterator[None]:
    try:
        yield
    except RUN_ERRORS as exc:
        console.print(f"[red]error:[/red] {escape(describe(exc))}")
        raise typer.Exit(2) from exc


def announce_default_student(config: RunConfig) -> None:
    """Say which student a run trains when the user named none, and how to choose another."""
    student = config.student
    with torch.random.fork_rng(devices=[]):  # the run's own random draws stay as they are
        model = create_student(student, config.data.image_size)
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    console.print(
        f"[yellow]note:[/yellow] no --student given: training {student.name}"
        f" ({millions:.1f} M parameters, {student.init} init). Choose one with --student NAME"
        " (any timm model) and its weights with --student-init timm|file"
        " (--student-weights PATH)."
    )


@app.command()
@run_config_flags(BUY_FLAGS)
def buy(request: ConfigRequest) -> None:
    """Pre-purchase teacher embeddings of a data set (prompts + images) under a spend cap."""
    with reported():
        report = buy_embeddings(request.load())
    summary = {"run_name": report.run_name, "images": report.images, "texts": report.texts}
    typer.echo(json.dumps(summary | {"spend": report.spend.__dict__}))


TRAIN_SUMMARY = (
    "method", "test_domain", "id_acc", "ood_acc", "image_queries", "text_queries", "cost",
    "wall_s",
)  # fmt: skip


@app.command()
@run_config_flags(TRAIN_FLAGS)
def train(request: ConfigRequest) -> None:
    """Train (and evaluate) one method on one held-out domain; writes metrics.json."""
    with reported():
        config = request.load()
        if not request.chose("student.name") and is_main_process():
            announce_default_student(config)
        result = train_run(config)
    if is_main_process():  # under torchrun, rank 0 speaks for the run
        summary = {k: result.metrics[k] for k in TRAIN_SUMMARY}
        typer.echo(json.dumps(summary | {"run_dir": str(result.directory)}))


@app.command()
@run_config_flags(EVALUATE_FLAGS)
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="checkpoint.pt of a trained run.")],
    request: ConfigRequest,
) -> None:
    """ID and OOD accuracy of a saved student (no vendor needed); without --config, the run's
    own config saved in the checkpoint, with the flags given on top."""
    with reported():
        base = load_config(request.file) if request.file is not None else None
        scores = evaluate_checkpoint(checkpoint, base, request.overrides)
    typer.echo(json.dumps(scores))


@app.command()
@run_config_flags(TRAIN_FLAGS)
def quote(
    request: ConfigRequest,
    methods: Annotated[
        str | None, typer.Option(help="Quote a table: these methods (all, or a comma list).")
    ] = None,
    test_domains: Annotated[
        str | None, typer.Option(help="Quote a table: these held-out domains (all, or a list).")
    ] = None,
    seeds: Annotated[int | None, typer.Option(min=1, help="Quote a table: seeds 0..N-1.")] = None,
) -> None:
    """What a job needs from the teacher, what the cache already holds and what the rest costs
    at the vendor's prices; buys nothing. The job is the `train` run the flags describe, or,
    with --methods / --test-domains / --seeds, the `table` they describe."""
    from client_trainer.purchase.quote import plan_job
    from client_trainer.simulation.jobs import table_configs

    with reported():
        base = request.load()
        configs = table_configs(base, methods, test_domains, seeds)
        plan = plan_job(configs)
    if plan is None:
        typer.echo(json.dumps({"runs": len(configs), "cost": 0}))
        console.print("quote: no run of this job asks the teacher anything")
        return
    console.print(plan.quote.describe())
    typer.echo(json.dumps(plan.quote.to_json()))


RunDirectories = Annotated[
    list[Path], typer.Argument(help="Run directories, or folders holding them (recursive).")
]
ReportOut = Annotated[
    Path | None,
    typer.Option(help="Where report.md, summary.json and plots go; the first directory if unset."),
]


@app.command()
def collect(directories: RunDirectories, out: ReportOut = None) -> None:
    """The table of any finished runs (their results.jsonl): mean ± std over seeds per row and
    held-out domain, ID and OOD, queries and credits, paired comparisons with ERM and LP-FT,
    training curves; written as report.md, summary.json and plots."""
    from client_trainer.report.collect import collect as collect_runs
    from client_trainer.simulation.summary_table import print_methods, print_paired

    command = "python -m client_trainer collect " + shlex.join(
        [*(str(d) for d in directories), *(["--out", str(out)] if out else [])]
    )
    with reported():
        missing = [d for d in directories if not d.exists()]
        if missing:
            raise FileNotFoundError(f"no such directory: {missing[0]}")
        target = out or directories[0]
        summary = collect_runs(directories, target, command)
    print_methods(console, summary)
    print_paired(console, summary)
    typer.echo(str(target / "report.md"))


register_simulation(app)  # demo, table, sweep-budget, pretrain-student


def main() -> None:
    app()
