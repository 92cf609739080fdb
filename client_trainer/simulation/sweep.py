"""`sweep-budget`: the query-budget experiment on its own, with its report."""

from __future__ import annotations

from dataclasses import replace

from client_trainer.pipeline import buy_embeddings
from client_trainer.report import Summary, write_report
from client_trainer.simulation.demo import announce
from client_trainer.simulation.experiments import SweepPlan, run_sweep, run_table
from client_trainer.simulation.runner import auto_workers
from client_trainer.simulation.session import SessionConfig, simulation_session


def run_sweep_command(config: SessionConfig, plan: SweepPlan, workers: int = 0) -> Summary:
    """`workers`: runs side by side in processes; 0 = one per core."""
    with simulation_session(config, announce) as session:
        workers = workers or auto_workers(session.base)
        plan = replace(plan, test_domain=plan.test_domain or session.domains[-1])
        buy_embeddings(session.base.with_overrides({"output.run_name": f"{session.tag}prebuy"}))
        # The teacher's zero-shot accuracy is the ceiling line of the plot.
        ceiling = run_table(
            session.base, (plan.test_domain,), ("zero-shot",), (plan.seed,), announce,
            session.prices, session.tag,
        )  # fmt: skip
        sweep = run_sweep(session.base, plan, announce, session.tag, workers)
    summary = Summary(ceiling, sweep, {"sweep_domain": plan.test_domain})
    report = write_report(summary, config.out_dir, "python -m client_trainer sweep-budget")
    announce(f"report: {report}")
    return summary
