"""The experiments of the simulation: the method table and the query-budget sweep.

Each point is one ordinary client run (`train_run`), so every number here comes from the same
code path a user's `python -m client_trainer train` takes, buying through the same cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.pipeline import train_run
from client_trainer.report import ResultRow, SweepRow
from client_trainer.simulation.session import Prices

Announce = Callable[[str], None]  # one line per run, so progress is visible between bars


def _run(base: RunConfig, overrides: dict[str, Any]) -> dict[str, Any]:
    return train_run(base.with_overrides(overrides)).metrics


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
) -> list[ResultRow]:
    """Every method on every held-out domain and seed (leave-one-domain-out).

    Queries and cost are what the run used, whether bought now or read from the cache that an
    earlier run filled: what the method costs on its own, at the vendor's list prices. `tag`
    prefixes run names, so each session keeps its own spend records.
    """
    rows = []
    for seed in seeds:
        for domain in domains:
            for method in methods:
                announce(f"{method} | held-out {domain} | seed {seed}")
                m = _run(
                    base,
                    {
                        "data.test_domain": domain,
                        "train.method": method,
                        "train.seed": seed,
                        "output.run_name": f"{tag}table-{domain}-{method}-s{seed}",
                    },
                )
                images, texts = _queries(m)
                cost = prices.cost(images, texts)
                row = ResultRow(
                    method, domain, seed, m["id_acc"], m["ood_acc"], images, texts, cost
                )
                rows.append(row)
    return rows


@dataclass(frozen=True)
class SweepPlan:
    test_domain: str  # the held-out domain every sweep point is evaluated on
    fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)  # share of training images bought
    strategies: tuple[str, ...] = ("random", "class-balanced", "k-center")
    policies: tuple[str, ...] = ("views:4", "per-step")  # target policies next to clean views
    seed: int = 0


def run_sweep(
    base: RunConfig, plan: SweepPlan, announce: Announce, tag: str = ""
) -> list[SweepRow]:
    """VL2V-ADiP at each budget for each selection strategy, then each target policy.

    With every image bought the strategy cannot matter and the policy is `clean`, so that run
    is trained once and reported for each of them.
    """
    common = {"data.test_domain": plan.test_domain, "train.method": "vl2v-adip",
              "train.seed": plan.seed}  # fmt: skip
    announce(f"sweep: every image bought | held-out {plan.test_domain}")
    full = _run(base, {**common, "output.run_name": f"{tag}sweep-{plan.test_domain}-full"})
    rows = [_sweep_row(s, 1.0, full, plan) for s in plan.strategies]
    rows.append(_sweep_row("policy:clean", 1.0, full, plan))
    for strategy in plan.strategies:
        for fraction in (f for f in plan.fractions if f < 1.0):
            announce(f"sweep: {strategy} {fraction:.0%} | held-out {plan.test_domain}")
            overrides = {
                "teacher.image_fraction": fraction,
                "teacher.selection": strategy,
                "output.run_name": f"{tag}sweep-{plan.test_domain}-{strategy}-{fraction}",
            }
            rows.append(_sweep_row(strategy, fraction, _run(base, {**common, **overrides}), plan))
    for policy in plan.policies:
        announce(f"sweep: targets {policy} | held-out {plan.test_domain}")
        overrides = {
            "teacher.targets": policy,
            "output.run_name": f"{tag}sweep-{plan.test_domain}-{policy}",
        }
        rows.append(_sweep_row(f"policy:{policy}", 1.0, _run(base, {**common, **overrides}), plan))
    return rows


def _sweep_row(strategy: str, fraction: float, m: dict[str, Any], plan: SweepPlan) -> SweepRow:
    images, _ = _queries(m)
    return SweepRow(
        strategy, fraction, images, m["id_acc"], m["ood_acc"], plan.test_domain, plan.seed
    )
