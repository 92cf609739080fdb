"""The experiments of the simulation: the method table and the query-budget sweep.

Each point is one ordinary client run (`train_run`), so every number here comes from the same
code path a user's `python -m client_trainer train` takes, buying through the same cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.report import ResultRow, SweepRow
from client_trainer.simulation.runner import RunSpec, run_specs
from client_trainer.simulation.session import Prices

Announce = Callable[[str], None]  # one line per run, so progress is visible between bars


def _queries(metrics: dict[str, Any]) -> tuple[int, int]:
    """(image, text) queries the run used: bought now, or earlier and read from the cache."""
    return (
        int(metrics["image_queries"]) + int(metrics.get("image_cache_hits", 0)),
        int(metrics["text_queries"]) + int(metrics.get("text_cache_hits", 0)),
    )


def run_table(
    base: RunConfig,
    domains: Iterable[str],
    methods: Iterable[str],
    seeds: Iterable[int],
    announce: Announce,
    prices: Prices,
    tag: str = "",
    workers: int = 1,
) -> list[ResultRow]:
    """Every method on every held-out domain and seed (leave-one-domain-out).

    Queries and cost are what the run used, whether bought now or read from the cache that an
    earlier run filled: what the method costs on its own, at the vendor's list prices. `tag`
    prefixes run names, so each simulation keeps its own spend records. `workers` > 1 runs the
    runs side by side in processes (the rows are the same, in the same order).
    """
    points = [(seed, domain, method) for seed in seeds for domain in domains for method in methods]
    specs = [
        RunSpec(
            f"{method} | held-out {domain} | seed {seed}",
            {
                "data.test_domain": domain,
                "train.method": method,
                "train.seed": seed,
                "output.run_name": f"{tag}table-{domain}-{method}-s{seed}",
            },
        )
        for seed, domain, method in points
    ]
    rows = []
    for (seed, domain, method), m in zip(
        points, run_specs(base, specs, announce, workers), strict=True
    ):
        images, texts = _queries(m)
        cost = prices.cost(images, texts)
        rows.append(ResultRow(method, domain, seed, m["id_acc"], m["ood_acc"], images, texts, cost))
    return rows


@dataclass(frozen=True)
class SweepPlan:
    test_domain: str  # the held-out domain every sweep point is evaluated on
    fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)  # share of training images bought
    strategies: tuple[str, ...] = ("random", "class-balanced", "k-center")
    policies: tuple[str, ...] = ("views:4", "per-step")  # target policies next to clean views
    seed: int = 0


def run_sweep(
    base: RunConfig, plan: SweepPlan, announce: Announce, tag: str = "", workers: int = 1
) -> list[SweepRow]:
    """VL2V-ADiP at each budget for each selection strategy, then each target policy.

    With every image bought the strategy cannot matter and the policy is `clean`, so that run
    is trained once and reported for each of them.
    """
    common = {"data.test_domain": plan.test_domain, "train.method": "vl2v-adip",
              "train.seed": plan.seed}  # fmt: skip
    name = f"{tag}sweep-{plan.test_domain}"
    specs = [RunSpec(f"sweep: every image bought | held-out {plan.test_domain}",
                     {**common, "output.run_name": f"{name}-full"})]  # fmt: skip
    points: list[tuple[str, float]] = []
    for strategy in plan.strategies:
        for fraction in (f for f in plan.fractions if f < 1.0):
            points.append((strategy, fraction))
            overrides = {
                "teacher.image_fraction": fraction,
                "teacher.selection": strategy,
                "output.run_name": f"{name}-{strategy}-{fraction}",
            }
            label = f"sweep: {strategy} {fraction:.0%} | held-out {plan.test_domain}"
            specs.append(RunSpec(label, {**common, **overrides}))
    for policy in plan.policies:
        points.append((f"policy:{policy}", 1.0))
        overrides = {"teacher.targets": policy, "output.run_name": f"{name}-{policy}"}
        label = f"sweep: targets {policy} | held-out {plan.test_domain}"
        specs.append(RunSpec(label, {**common, **overrides}))
    full, *others = run_specs(base, specs, announce, workers)
    rows = [_sweep_row(s, 1.0, full, plan) for s in plan.strategies]
    rows.append(_sweep_row("policy:clean", 1.0, full, plan))
    rows += [_sweep_row(s, f, m, plan) for (s, f), m in zip(points, others, strict=True)]
    return rows


def _sweep_row(strategy: str, fraction: float, m: dict[str, Any], plan: SweepPlan) -> SweepRow:
    images, _ = _queries(m)
    return SweepRow(
        strategy, fraction, images, m["id_acc"], m["ood_acc"], plan.test_domain, plan.seed
    )
