"""Commands of the simulation: `demo`, `sweep-budget`, `table`, `pretrain-student`.

Registered onto the client's typer app; each is a thin call into a library function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from client_trainer.registry import UnknownName
from client_trainer.simulation.demo import DemoConfig, announce, run_demo
from client_trainer.simulation.experiments import SweepPlan
from client_trainer.simulation.session import SessionConfig
from client_trainer.students.registry import StudentError

Out = Annotated[Path | None, typer.Option(help="Output folder (report, summary, plots, runs).")]
Artifacts = Annotated[
    Path | None,
    typer.Option(envvar="ARTIFACTS_DIR", help="Cache of world data, teacher, student, Redis."),
]
Seeds = Annotated[int, typer.Option(help="Number of seeds (0, 1, ...) of the method table.")]
Profile = Annotated[str, typer.Option(help="World size: full (the demo's) or micro (tests).")]
Workers = Annotated[
    int,
    typer.Option(
        min=0,
        help="Client runs side by side in worker processes; 0 = one per core, at most 8"
        " (1 on CUDA).",
    ),
]


def _guarded(run: Callable[[], object]) -> None:
    """Run an experiment; a failure is one readable line and exit code 1, not a traceback."""
    import logging

    # World generation and pretraining log their progress; show it (the runs have bars).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        run()
    except (RuntimeError, ValueError, TimeoutError, OSError, StudentError, UnknownName) as exc:
        announce(f"[red]failed:[/red] {exc}")
        raise typer.Exit(1) from exc


def _session(
    out: Path | None, artifacts: Path | None, default_out: str, profile: str
) -> SessionConfig:
    return SessionConfig.from_env(
        out_dir=out or Path("runs") / default_out, artifacts=artifacts, profile=profile
    )


def demo(
    out: Out = None,
    artifacts: Artifacts = None,
    seeds: Seeds = 1,
    sweep: Annotated[bool, typer.Option("--sweep/--no-sweep", help="Run the budget sweep.")] = True,
    profile: Profile = "full",
    workers: Workers = 0,
) -> None:
    """The whole simulation: world, vendor, every method on every held-out domain, the
    query-budget sweep, and runs/demo/report.md + summary.json + plots. Uses VENDOR_URL,
    VENDOR_API_KEY / VENDOR_ADMIN_TOKEN and REDIS_URL when set, else starts everything locally."""
    session = _session(out, artifacts, "demo", profile)
    config = DemoConfig(session, seeds=tuple(range(seeds)), sweep=sweep, workers=workers)
    _guarded(lambda: run_demo(config))


def table(
    out: Out = None,
    artifacts: Artifacts = None,
    seeds: Seeds = 5,
    profile: Profile = "full",
    workers: Workers = 0,
) -> None:
    """The offline world's full table: every method, leave-one-domain-out over all domains,
    several seeds (mean ± std), without the budget sweep."""
    session = _session(out, artifacts, "table", profile)
    config = DemoConfig(session, seeds=tuple(range(seeds)), sweep=False, workers=workers)
    _guarded(lambda: run_demo(config))


def sweep_budget(
    out: Out = None,
    artifacts: Artifacts = None,
    test_domain: Annotated[str | None, typer.Option(help="Held-out domain of the sweep.")] = None,
    fractions: Annotated[str, typer.Option(help="Shares of training images bought.")] = (
        "0.05,0.1,0.25,0.5,1.0"
    ),
    strategies: Annotated[str, typer.Option(help="Selection strategies.")] = (
        "random,class-balanced,k-center"
    ),
    policies: Annotated[str, typer.Option(help="Target policies besides clean.")] = (
        "views:4,per-step"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the sweep.")] = 0,
    profile: Profile = "full",
    workers: Workers = 0,
) -> None:
    """Accuracy against images bought, per selection strategy and target policy."""
    from client_trainer.simulation.sweep import run_sweep_command

    plan = SweepPlan(
        test_domain or "",
        tuple(float(f) for f in fractions.split(",")),
        tuple(s for s in strategies.split(",") if s),
        tuple(p for p in policies.split(",") if p),
        seed,
    )
    session = _session(out, artifacts, "sweep", profile)
    _guarded(lambda: run_sweep_command(session, plan, workers))


def pretrain_student_command(artifacts: Artifacts = None, profile: Profile = "full") -> None:
    """Pretrain the client's default student on the world's photo-dominated "ImageNet"
    (cached by config hash); prints the weight file."""
    from client_trainer.simulation.pretrain import pretrain_student
    from client_trainer.simulation.profiles import client_profile

    path = pretrain_student(client_profile(profile).pretrain, artifacts)
    announce(f"student weights: {path}")
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("table")(table)
    app.command("sweep-budget")(sweep_budget)
    app.command("pretrain-student")(pretrain_student_command)
