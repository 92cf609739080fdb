"""`make demo`: the whole simulation on one machine, nothing configured.

World -> vendor -> buy the clean-view embeddings once -> every method on every held-out
domain -> the query-budget sweep -> `report.md`, `summary.json` and plots in the out dir.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict, dataclass, field

from rich.console import Console

from client_trainer.pipeline import buy_embeddings
from client_trainer.report import Summary, write_report
from client_trainer.report.records import METHOD_ORDER
from client_trainer.simulation.experiments import SweepPlan, run_sweep, run_table
from client_trainer.simulation.profiles import client_profile
from client_trainer.simulation.runner import auto_workers
from client_trainer.simulation.session import SessionConfig, simulation_session
from client_trainer.simulation.summary_table import print_methods

console = Console(stderr=True)


@dataclass(frozen=True)
class DemoConfig:
    session: SessionConfig = field(default_factory=SessionConfig)
    seeds: tuple[int, ...] = (0,)  # seeds of the method table
    methods: tuple[str, ...] = METHOD_ORDER  # methods of the table
    sweep: bool = True  # run the query-budget sweep after the table
    sweep_domain: str | None = None  # held-out domain of the sweep; None = the last domain
    workers: int = 0  # runs side by side in processes; 0 = one per core (runner.auto_workers)


def announce(message: str) -> None:
    console.print(f"[bold cyan]>[/bold cyan] {message}")


def run_demo(config: DemoConfig, command: str | None = None) -> Summary:
    started = time.perf_counter()
    out = config.session.out_dir
    with simulation_session(config.session, announce) as session:
        workers = config.workers or auto_workers(session.base)
        announce("client: buying one clean-view embedding per image, and the class prompts")
        buy_embeddings(session.base.with_overrides({"output.run_name": f"{session.tag}prebuy"}))
        results = run_table(
            session.base,
            session.domains,
            config.methods,
            config.seeds,
            announce,
            session.prices,
            session.tag,
            workers,
        )
        sweep = []
        if config.sweep:
            domain = config.sweep_domain or session.domains[-1]
            plan = SweepPlan(domain, seed=config.seeds[0])
            sweep = run_sweep(session.base, plan, announce, session.tag, workers)
    summary = Summary(results, sweep, _meta(config, session.base.public_dict(), started))
    report = write_report(summary, out, command or _command())
    print_methods(console, summary)
    announce(f"report: {report}  (summary.json and plots beside it)")
    return summary


def _meta(config: DemoConfig, base: dict[str, object], started: float) -> dict[str, object]:
    return {
        "wall_s": round(time.perf_counter() - started, 1),
        "profile": config.session.profile,
        "recipe": asdict(client_profile(config.session.profile).recipe),
        "seeds": list(config.seeds),
        "workers": config.workers or "auto",
        "base_config": base,
    }


def _command() -> str:
    return "python -m client_trainer " + shlex.join(sys.argv[1:])
