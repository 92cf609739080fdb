"""Commands of the experiments: `demo`, `table`, `sweep-budget`, `pretrain-student`.

Registered onto the client's typer app; each is a thin call into a library function. `table`
and `sweep-budget` take the run config's flags as `train` does: without `--data-root` they run
on the offline world (its recipe, with the flags given on top), with it on that data set.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import redis
import typer

from client_trainer.config import load_config, read_config_file
from client_trainer.config_flags import ConfigRequest, pick, run_config_flags
from client_trainer.registry import UnknownName
from client_trainer.simulation.demo import (
    DEMO_METHOD_TARGETS,
    DemoConfig,
    announce,
    console,
    run_demo,
)
from client_trainer.simulation.experiments import SweepPlan
from client_trainer.simulation.jobs import all_methods, names, target_policies
from client_trainer.simulation.session import SessionConfig
from client_trainer.students.registry import StudentError
from client_trainer.teacher.errors import TeacherError

Out = Annotated[Path | None, typer.Option(help="Output folder (report, summary, plots, runs).")]
Artifacts = Annotated[
    Path | None,
    typer.Option(envvar="ARTIFACTS_DIR", help="Cache of world data, teacher, student, Redis."),
]
Seeds = Annotated[int, typer.Option(min=1, help="Number of seeds (0, 1, ...) of the table.")]
Profile = Annotated[
    str,
    typer.Option(
        help="World size: full (the demo's), micro (tests) or paper (the full world, the"
        " paper's 5,001-step recipe); without --data-root."
    ),
]
Workers = Annotated[
    int,
    typer.Option(
        min=0,
        help="Client runs side by side in worker processes; 0 = one per core (at most 8), or"
        " one per GPU when training on CUDA, each pinned to its own.",
    ),
]
TestDomains = Annotated[
    str, typer.Option(help="Held-out domains of the table: all, or a comma list.")
]
Methods = Annotated[
    str,
    typer.Option(help="Methods of the table: all, or a comma list (linear-probe: ERM's linear"
                 " probe on the frozen pretrained student)."),
]  # fmt: skip
Targets = Annotated[
    str | None,
    typer.Option(help="Target policies of the methods that buy training-image targets (kd,"
                 " vl2v-adip, vl2v-adip-align), one row each: a comma list of clean, views:K,"
                 " per-step; default: the recipe's (clean)."),
]  # fmt: skip
MaxCost = Annotated[
    int | None,
    typer.Option(min=0, help="Refuse to start (buying nothing) when the quote is above this"
                 " many credits."),
]  # fmt: skip

# The run-config fields `table` and `sweep-budget` take as flags: what each run shares. The
# held-out domain, method, seed and target policy are the experiment's own axes
# (--test-domains, --methods, --seeds, --targets), run names and folders its own (--out).
EXPERIMENT_FLAGS = pick(
    "data", "student", "teacher", "train", "output.progress",
    without=("data.test_domain", "train.method", "train.seed", "teacher.targets"),
)  # fmt: skip
# `probe-augment` keeps --seed (the probe's sample) and the probe's own settings.
PROBE_FLAGS = pick(
    "data", "student", "teacher", "train", "output.progress",
    without=("data.test_domain", "train.method", "teacher.targets"),
)  # fmt: skip
SWEEP_FLAGS = tuple(
    p for p in EXPERIMENT_FLAGS if p not in ("teacher.image_fraction", "teacher.selection")
)  # fmt: skip
FAILURES = (RuntimeError, ValueError, TimeoutError, OSError, StudentError, UnknownName,
            TeacherError, redis.RedisError)  # fmt: skip


def _terminate(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt  # SIGTERM ends an experiment as Ctrl-C does: everything it started


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _guarded(run: Callable[[], object]) -> None:
    """Run an experiment; a failure is one readable line and exit code 1, not a traceback;
    Ctrl-C or SIGTERM stop it (and every process it started) with exit code 130."""
    import logging

    # World generation and pretraining log their progress; show it (the runs have bars).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        with _sigterm_interrupts():
            run()
    except KeyboardInterrupt as exc:
        announce("[red]interrupted:[/red] finished runs are kept; the same command finishes"
                 " the rest")  # fmt: skip
        raise typer.Exit(130) from exc
    except FAILURES as exc:
        announce(f"[red]failed:[/red] {exc}")
        raise typer.Exit(1) from exc


def _flat(tables: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s, fields in tables.items() for k, v in fields.items()}


def _demo_config(request: ConfigRequest, out: Path, artifacts: Path | None,
                 profile: str, **experiment: Any) -> DemoConfig:  # fmt: skip
    """World or data set, from the flags: `--data-root` (flag or config file) means a data
    set of the user's own; otherwise the world, with the file's and flags' fields on top."""
    given = request.overrides
    session = SessionConfig.from_env(
        out_dir=out, artifacts=artifacts, profile=profile,
        vendor_url=given.get("teacher.vendor_url"), api_key=given.get("teacher.api_key"),
        redis_url=given.get("teacher.redis_url"), client_prefix=given.get("teacher.redis_prefix"),
    )  # fmt: skip
    if request.chose("data.root"):
        return DemoConfig(session, dataset=request.load(), **experiment)
    tables = read_config_file(request.file) if request.file is not None else {}
    if request.file is not None:
        load_config(request.file)  # a bad file is refused here, before the world is built
    return DemoConfig(session, overrides=_flat(tables) | given, **experiment)


def demo(
    out: Out = None,
    artifacts: Artifacts = None,
    seeds: Seeds = 1,
    sweep: Annotated[bool, typer.Option("--sweep/--no-sweep", help="Run the budget sweep.")] = True,
    profile: Profile = "full",
    workers: Workers = 0,
    targets: Targets = None,
) -> None:
    """The whole simulation: world, vendor, every method on every held-out domain, the
    query-budget sweep, and runs/demo/report.md + summary.json + plots. Uses VENDOR_URL,
    VENDOR_API_KEY / VENDOR_ADMIN_TOKEN and REDIS_URL when set, else starts everything locally."""
    session = SessionConfig.from_env(
        out_dir=out or Path("runs/demo"), artifacts=artifacts, profile=profile
    )

    def run() -> None:
        config = DemoConfig(session, seeds=tuple(range(seeds)), sweep=sweep, workers=workers,
                            targets=target_policies(targets),
                            method_targets=DEMO_METHOD_TARGETS,
                            sweep_plan=SweepPlan("", policies=("per-step",)))  # fmt: skip
        run_demo(config)

    _guarded(run)


@run_config_flags(EXPERIMENT_FLAGS)
def table(
    request: ConfigRequest,
    out: Out = None,
    artifacts: Artifacts = None,
    seeds: Seeds = 5,
    test_domains: TestDomains = "all",
    methods: Methods = "all",
    targets: Targets = None,
    profile: Profile = "full",
    workers: Workers = 0,
    max_cost: MaxCost = None,
) -> None:
    """Every method on every held-out domain (leave-one-domain-out), several seeds, each
    policy of --targets its own row: the table (mean ± std, image queries and credits per
    row), paired comparisons with ERM and LP-FT, report.md, summary.json and plots in
    --out. Without --data-root: the offline world, with a vendor started locally unless
    VENDOR_URL is set. With --data-root: that DomainBed data set, bought from the vendor at
    --vendor-url with --api-key. On the world the flags given replace its recipe's values
    (the defaults shown are those of a data set). Quotes before buying; a rerun into the same
    --out skips the runs that finished."""

    def run() -> None:
        config = _demo_config(
            request, out or Path("runs/table"), artifacts, profile,
            seeds=tuple(range(seeds)), sweep=False, workers=workers, max_cost=max_cost,
            methods=names(methods, all_methods()), test_domains=names(test_domains, ()),
            targets=target_policies(targets),
        )  # fmt: skip
        run_demo(config)

    _guarded(run)


@run_config_flags(SWEEP_FLAGS)
def sweep_budget(
    request: ConfigRequest,
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
    max_cost: MaxCost = None,
) -> None:
    """VL2V-ADiP's accuracy against images bought, per selection strategy and target policy,
    on the offline world or (--data-root) a data set of your own. Quotes before buying."""

    def run() -> None:
        plan = SweepPlan(
            test_domain or "",
            tuple(float(f) for f in fractions.split(",")),
            names(strategies, ()),
            names(policies, ()),
            seed,
        )
        config = _demo_config(
            request, out or Path("runs/sweep"), artifacts, profile, seeds=(seed,), table=False,
            sweep_plan=plan, workers=workers, max_cost=max_cost,
        )  # fmt: skip
        run_demo(config)

    _guarded(run)


@run_config_flags(PROBE_FLAGS)
def probe_augment(
    request: ConfigRequest,
    out: Out = None,
    artifacts: Artifacts = None,
    test_domains: TestDomains = "all",
    profile: Profile = "full",
) -> None:
    """Per augmentation family (flip, shift, crop-scale, brightness-contrast, color-jitter,
    grayscale), the teacher's mean cosine between a view and its clean image, on
    --augment-probe-images training images of each held-out domain, and the families
    --augment-threshold keeps (what --augment teacher-consistent trains with). On the offline
    world, or (--data-root) a data set of your own. Buys the views once (cached); writes
    augment_probe.json into --out and prints the table, its JSON on stdout."""
    from client_trainer.simulation.augment_probe import print_probes, probe_domains, write_probes

    def run() -> None:
        folder = out or Path("runs/probe-augment")
        config = _demo_config(request, folder, artifacts, profile,
                              test_domains=names(test_domains, ()))  # fmt: skip
        probes = probe_domains(config)
        print_probes(console, probes)
        announce(f"table: {write_probes(probes, folder)}")
        typer.echo(json.dumps({d: p.to_json() for d, p in probes.items()}))

    _guarded(run)


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
    app.command("probe-augment")(probe_augment)
