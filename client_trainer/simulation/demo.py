"""`demo`, `table` and `sweep-budget`: an experiment from its runs to its report.

On the offline world (the default; `make demo`): world -> vendor -> quote and buy the clean
embeddings once -> every method on every held-out domain -> the query-budget sweep. On a data
set of the user's own (`--data-root`): the same runs against the vendor the config names.
Either way the report is `collect`'s, over the experiment's run directories.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rich.console import Console
from rich.markup import escape

from client_trainer.config import RunConfig
from client_trainer.report import Summary
from client_trainer.report.collect import collect
from client_trainer.simulation.dataset_session import dataset_session
from client_trainer.simulation.experiments import (
    SweepPlan,
    ceiling_spec,
    run_experiment,
    sweep_specs,
    table_specs,
)
from client_trainer.simulation.jobs import check_domains
from client_trainer.simulation.profiles import client_profile
from client_trainer.simulation.regime import regime
from client_trainer.simulation.runner import RunSpec, auto_workers
from client_trainer.simulation.session import Session, SessionConfig, simulation_session
from client_trainer.simulation.summary_table import print_methods, print_paired

console = Console(stderr=True)

# The demo's table: the teacher, the linear probe (the bar a fine-tune must clear), the
# baselines and the two distillations (the table command's `--methods all` adds ADiP's align
# stage). Its headline ADiP row buys one cached augmented view per image (views:1): at the
# clean cache's price it does as well as more views or every augmented batch in the five-seed
# policy table (docs/offline-world.md); the clean cache stands beside it, and the sweep adds
# the dearest policy, every augmented batch, on one domain.
DEMO_METHODS = ("zero-shot", "linear-probe", "erm", "lp-ft", "kd", "vl2v-adip")
DEMO_METHOD_TARGETS = (("vl2v-adip", ("clean", "views:1")),)


@dataclass(frozen=True)
class DemoConfig:
    session: SessionConfig = field(default_factory=SessionConfig)  # out dir, world, vendor
    seeds: tuple[int, ...] = (0,)  # seeds of the method table
    methods: tuple[str, ...] = DEMO_METHODS  # methods of the table (jobs.METHOD_ALIASES too)
    # Target policies of the table's methods that buy training-image targets, one row each;
    # () = the recipe's one policy.
    targets: tuple[str, ...] = ()
    # Policies of single methods, used where `targets` is (): (method, (policy, ...)) pairs.
    method_targets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    test_domains: tuple[str, ...] = ()  # held-out domains of the table; () = every domain
    table: bool = True  # run the method table
    sweep: bool = True  # run the query-budget sweep after the table
    sweep_plan: SweepPlan = field(default_factory=lambda: SweepPlan(""))  # "" = last domain
    workers: int = 0  # runs side by side in processes; 0 = one per core or GPU (auto_workers)
    max_cost: int | None = None  # refuse to buy when the quote is above this many credits
    dataset: RunConfig | None = None  # base config of a data set of the user's own; None = world
    overrides: dict[str, Any] = field(default_factory=dict)  # flags over the world's recipe


def announce(message: str) -> None:
    """One progress line; the message is plain text (a row label's `[views:4]` is not markup)."""
    console.print(f"[bold cyan]>[/bold cyan] {escape(message)}")


@contextmanager
def experiment_session(config: DemoConfig) -> Iterator[Session]:
    if config.dataset is not None:
        with dataset_session(config.dataset, config.session.out_dir, announce) as session:
            yield session
        return
    with simulation_session(config.session, announce, config.overrides) as session:
        yield session


def sweep_plan(config: DemoConfig, session: Session) -> SweepPlan:
    """The sweep as asked, on the last domain unless one was named."""
    wanted = config.sweep_plan.test_domain or session.domains[-1]
    return replace(config.sweep_plan, test_domain=check_domains((wanted,), session.domains)[0])


def experiment_specs(config: DemoConfig, session: Session) -> list[RunSpec]:
    specs = []
    if config.table:
        domains = check_domains(config.test_domains, session.domains)
        specs += table_specs(domains, config.methods, config.seeds, session.tag, config.targets,
                             dict(config.method_targets))  # fmt: skip
    if config.sweep:
        plan = sweep_plan(config, session)
        if not config.table:
            specs.append(ceiling_spec(plan, session.tag))
        specs += sweep_specs(plan, session.tag)
    return specs


def run_demo(config: DemoConfig, command: str | None = None) -> Summary:
    started = time.perf_counter()
    with experiment_session(config) as session:
        workers = config.workers or auto_workers(session.base)
        announce(regime(session.base.train))
        specs = experiment_specs(config, session)
        run_experiment(session.base, specs, announce, workers, config.max_cost, session.tag)
        meta = _meta(config, session, started)
    summary = collect([session.base.output.out_dir], config.session.out_dir,
                      command or _command(), meta)  # fmt: skip
    print_methods(console, summary)
    print_paired(console, summary)
    announce(f"report: {config.session.out_dir / 'report.md'}  (summary.json and plots beside it)")
    return summary


def _meta(config: DemoConfig, session: Session, started: float) -> dict[str, object]:
    meta: dict[str, object] = {
        "wall_s": round(time.perf_counter() - started, 1),
        "seeds": list(config.seeds),
        "targets": list(config.targets) or [str(session.base.teacher.targets)],
        "workers": config.workers or "auto",
        "regime": regime(session.base.train),
        "base_config": session.base.public_dict(),
    }
    if config.dataset is None:
        meta["profile"] = config.session.profile
        meta["recipe"] = asdict(client_profile(config.session.profile).recipe)
    if config.sweep:
        meta["sweep_domain"] = sweep_plan(config, session).test_domain
    return meta


def _command() -> str:
    return "python -m client_trainer " + shlex.join(sys.argv[1:])
