"""The experiments: the method table and the query-budget sweep, as lists of client runs.

Each point is one ordinary client run (`train_run`), so every number here comes from the same
code path a user's `python -m client_trainer train` takes, buying through the same cache.
Before any run starts, the experiment is quoted (what it needs, what the cache holds, what the
rest costs), refused if that is above `--max-cost`, and what it needs is bought once, in this
process, so runs side by side never buy the same embedding twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from client_trainer.config import RunConfig
from client_trainer.purchase.quote import Quote, buy_planned, plan_job
from client_trainer.simulation.jobs import method_overrides, uses_targets
from client_trainer.simulation.runner import RunSpec, pending, run_specs

Announce = Callable[[str], None]  # one line per run, so progress is visible between bars


def table_specs(
    domains: Iterable[str],
    methods: Iterable[str],
    seeds: Iterable[int],
    tag: str = "",
    targets: Sequence[str] = (),
    method_targets: Mapping[str, Sequence[str]] | None = None,
) -> list[RunSpec]:
    """Every method on every held-out domain and seed (leave-one-domain-out); a method that
    buys training-image targets once per policy of `targets` (() = the base config's policy).
    `tag` prefixes run names, so each experiment keeps its own run directories and spend
    records; a policy other than clean is in the name, so each (method, policy, domain, seed)
    has its own. `method_targets` names a method's own policies, where `targets` is empty."""
    domains, methods = list(domains), list(methods)
    own = {} if targets else dict(method_targets or {})

    def policies(method: str) -> Sequence[str | None]:
        if method in own:
            return own[method]
        return targets if targets and uses_targets(method) else (None,)

    return [
        _table_spec(method, policy, domain, seed, tag)
        for seed in seeds
        for domain in domains
        for method in methods
        for policy in policies(method)
    ]


def _table_spec(method: str, policy: str | None, domain: str, seed: int, tag: str) -> RunSpec:
    row = method if policy is None else f"{method} [{policy}]"
    named = method if policy in (None, "clean") else f"{method}-{policy}"
    overrides = method_overrides(method) | {
        "data.test_domain": domain,
        "train.seed": seed,
        "output.run_name": f"{tag}table-{domain}-{named}-s{seed}",
    }
    if policy is not None:
        overrides["teacher.targets"] = policy
    return RunSpec(f"{row} | held-out {domain} | seed {seed}", overrides)


@dataclass(frozen=True)
class SweepPlan:
    test_domain: str  # the held-out domain every sweep point is evaluated on
    fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)  # share of training images bought
    strategies: tuple[str, ...] = ("random", "class-balanced", "k-center")
    policies: tuple[str, ...] = ("views:4", "per-step")  # target policies next to clean views
    seed: int = 0


def sweep_specs(plan: SweepPlan, tag: str = "") -> list[RunSpec]:
    """VL2V-ADiP at each budget for each selection strategy, then each target policy. With
    every image bought the strategy cannot matter and the policy is `clean`: that run is one
    run (the table's own, when the table has it)."""
    common = {"data.test_domain": plan.test_domain, "train.method": "vl2v-adip",
              "train.seed": plan.seed}  # fmt: skip
    name = f"{tag}sweep-{plan.test_domain}"
    specs = [RunSpec(f"sweep: every image bought | held-out {plan.test_domain}",
                     {**common, "output.run_name": f"{name}-full"})]  # fmt: skip
    for strategy in plan.strategies:
        for fraction in (f for f in plan.fractions if f < 1.0):
            overrides = {
                "teacher.image_fraction": fraction,
                "teacher.selection": strategy,
                "output.run_name": f"{name}-{strategy}-{fraction}",
            }
            label = f"sweep: {strategy} {fraction:.0%} | held-out {plan.test_domain}"
            specs.append(RunSpec(label, {**common, **overrides}))
    for policy in plan.policies:
        overrides = {"teacher.targets": policy, "output.run_name": f"{name}-{policy}"}
        label = f"sweep: targets {policy} | held-out {plan.test_domain}"
        specs.append(RunSpec(label, {**common, **overrides}))
    return specs


def ceiling_spec(plan: SweepPlan, tag: str = "") -> RunSpec:
    """The teacher's zero-shot accuracy on the sweep's domain: the ceiling line of its plot."""
    return table_specs((plan.test_domain,), ("zero-shot",), (plan.seed,), tag)[0]


class CostAboveLimit(ValueError):
    """The quote of an experiment is above the `--max-cost` the user allows."""


def quote_and_buy(
    base: RunConfig,
    specs: Sequence[RunSpec],
    announce: Announce,
    max_cost: int | None,
    tag: str,
) -> Quote | None:
    """Quote the runs still to run; refuse above `max_cost`; buy what they need up front."""
    plan_of = pending(base, specs)
    plan = plan_job([plan_of.configs[i] for i in plan_of.to_run])
    if plan is None:
        announce("quote: no run left to run asks the teacher anything; nothing to buy")
        return None
    announce(plan.quote.describe())
    if max_cost is not None and plan.quote.cost > max_cost:
        raise CostAboveLimit(
            f"the quote ({plan.quote.cost:,} credits) is above --max-cost {max_cost:,}:"
            " nothing was bought; raise --max-cost, or run fewer seeds, domains or methods"
        )
    buy_planned(base, plan, f"{tag}prebuy")
    return plan.quote


def run_experiment(
    base: RunConfig,
    specs: Sequence[RunSpec],
    announce: Announce,
    workers: int,
    max_cost: int | None = None,
    tag: str = "",
) -> list[dict[str, Any]]:
    """Quote, buy, then run every spec not finished yet; each spec's results line."""
    quote_and_buy(base, specs, announce, max_cost, tag)
    return run_specs(base, specs, announce, workers)
