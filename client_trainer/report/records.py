"""The rows of `summary.json` and the aggregations every view of them shares."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

# Order in which methods appear in tables and plots: the teacher, the untouched student's
# linear probe (the bar fine-tuning must clear), the fine-tunes, then the distillations.
METHOD_ORDER = (
    "zero-shot", "linear-probe", "erm", "lp-ft", "kd", "vl2v-adip-align", "vl2v-adip",
)  # fmt: skip
# Rows of a method's variant that stand in METHOD_ORDER under a name of their own:
# (method, its row's first knob) -> that name.
ORDER_NAMES = {("erm", "linear-probe"): "linear-probe"}


@dataclass(frozen=True)
class ResultRow:
    """One trained-and-evaluated run: a method, a held-out domain, a seed."""

    method: str
    test_domain: str
    seed: int
    id_acc: float  # accuracy on the source domains' holdouts (model selection split)
    ood_acc: float  # accuracy on the held-out target domain
    image_queries: int  # image embeddings the run used (bought by it or read from the cache)
    text_queries: int
    cost: int  # what those queries cost at the vendor's list prices
    row: str = ""  # table row (report.rows.row_label); "" = the method alone

    @property
    def label(self) -> str:
        return self.row or self.method


@dataclass(frozen=True)
class SweepRow:
    """One point of a query-budget experiment."""

    strategy: str  # selection strategy or target policy
    budget: float  # fraction of the training images bought (1.0 = all)
    image_queries: int  # image queries this point needed in total
    id_acc: float
    ood_acc: float
    test_domain: str = ""
    seed: int = 0


@dataclass
class Summary:
    results: list[ResultRow] = field(default_factory=list)
    budget_sweep: list[SweepRow] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # config, timings, vendor model id

    def to_json(self) -> dict[str, Any]:
        return {
            "results": [asdict(r) for r in self.results],
            "budget_sweep": [asdict(r) for r in self.budget_sweep],
            **self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        meta = {k: v for k, v in data.items() if k not in ("results", "budget_sweep")}
        return cls(
            results=[ResultRow(**r) for r in data.get("results", [])],
            budget_sweep=[SweepRow(**r) for r in data.get("budget_sweep", [])],
            meta=meta,
        )


@dataclass(frozen=True)
class RowStats:
    """A table row's accuracy over its runs (domains x seeds): mean and population std."""

    row: str
    runs: int
    id_mean: float
    id_std: float
    ood_mean: float
    ood_std: float
    image_queries: int  # summed over runs
    text_queries: int
    cost: int
    ood_seed_std: float = 0.0  # std over seeds of each seed's mean OOD over domains


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def row_stats(rows: list[ResultRow]) -> list[RowStats]:
    """Per-row aggregates: rows of methods in METHOD_ORDER, each method's plain row first, then
    its variants and any other method's rows alphabetically."""
    stats = []
    for name in row_order(rows):
        mine = [r for r in rows if r.label == name]
        id_mean, id_std = _mean_std([r.id_acc for r in mine])
        ood_mean, ood_std = _mean_std([r.ood_acc for r in mine])
        stats.append(
            RowStats(
                name,
                len(mine),
                id_mean,
                id_std,
                ood_mean,
                ood_std,
                sum(r.image_queries for r in mine),
                sum(r.text_queries for r in mine),
                sum(r.cost for r in mine),
                _seed_std(mine),
            )
        )
    return stats


def _seed_std(rows: list[ResultRow]) -> float:
    """How much the method's domain-averaged OOD accuracy moves from seed to seed."""
    seeds = sorted({r.seed for r in rows})
    per_seed = [statistics.fmean(r.ood_acc for r in rows if r.seed == s) for s in seeds]
    return statistics.pstdev(per_seed) if len(per_seed) > 1 else 0.0


def knobs_of(label: str, method: str) -> list[str]:
    """The knobs of a row label `<method> [knob, knob]` (report.rows.row_label)."""
    rest = label[len(method) :].strip()
    return [k.strip() for k in rest.strip("[]").split(",") if k.strip()] if rest else []


def _policy_rank(knobs: list[str]) -> tuple[int, int]:
    """Target policies by price: clean, views:K by K, per-step."""
    for knob in knobs:
        kind, _, count = knob.partition(":")
        if kind == "views" and count.isdigit():
            return 1, int(count)
        if knob == "per-step":
            return 2, 0
    return 0, 0


def row_order(rows: list[ResultRow]) -> list[str]:
    """The rows' labels in table order: by METHOD_ORDER (ORDER_NAMES placing a variant of its
    own), a method's plain row first, its target policies by price, then the rest by name."""
    method_of = {r.label: r.method for r in rows}

    def rank(label: str) -> tuple[int, str, int, tuple[int, int], str]:
        method = method_of[label]
        knobs = knobs_of(label, method)
        name = ORDER_NAMES.get((method, knobs[0]), method) if knobs else method
        if name != method:
            knobs = knobs[1:]
        known = METHOD_ORDER.index(name) if name in METHOD_ORDER else len(METHOD_ORDER)
        policy = _policy_rank(knobs)
        return (known, name, len(knobs) - (policy != (0, 0)), policy, label)

    return sorted(method_of, key=rank)


def queries_to_reach(sweep: list[SweepRow], strategy: str, target_ood: float) -> int | None:
    """Fewest image queries at which `strategy` reaches `target_ood` (mean over domains)."""
    points = sweep_curve(sweep, strategy)
    reached = [queries for queries, _, ood in points if ood >= target_ood]
    return min(reached) if reached else None


def sweep_curve(sweep: list[SweepRow], strategy: str) -> list[tuple[int, float, float]]:
    """(image queries, mean id_acc, mean ood_acc) per budget of one strategy, by queries."""
    budgets = sorted({r.budget for r in sweep if r.strategy == strategy})
    curve = []
    for budget in budgets:
        rows = [r for r in sweep if r.strategy == strategy and r.budget == budget]
        curve.append(
            (
                round(statistics.fmean(r.image_queries for r in rows)),
                statistics.fmean(r.id_acc for r in rows),
                statistics.fmean(r.ood_acc for r in rows),
            )
        )
    return sorted(curve)
