"""Paired comparison of two table rows over the (seed, held-out domain) runs both have.

A row's OOD accuracy minus the baseline's, run for run: the mean difference with a 95 %
interval from the paired t distribution and from a paired bootstrap (resampling the pairs).
Pairing removes what a seed and a domain do to both rows alike, which dominates the spread of
either row on its own.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from client_trainer.report.records import ResultRow, knobs_of
from client_trainer.report.rows import is_recipe_switch

BOOTSTRAP_SAMPLES = 10_000
BOOTSTRAP_SEED = 0  # the interval is a function of the runs, the same on every collect


@dataclass(frozen=True)
class PairedComparison:
    row: str
    baseline: str
    pairs: int  # (seed, held-out domain) runs both rows have
    mean_diff: float  # mean of row − baseline OOD accuracy, in [−1, 1]
    t_low: float | None  # 95 % paired-t interval; None with fewer than 2 pairs
    t_high: float | None
    boot_low: float | None  # 95 % paired-bootstrap percentile interval
    boot_high: float | None


def _t_pdf(x: np.ndarray, dof: int) -> np.ndarray:
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    return np.exp(log_norm - (dof + 1) / 2 * np.log1p(x * x / dof))


def _t_cdf_above_zero(x: float, dof: int, panels: int = 4000) -> float:
    """P(0 <= T <= x) by Simpson's rule (the density is smooth; error far below 1e-8)."""
    grid = np.linspace(0.0, x, panels + 1)
    weights = np.ones(panels + 1)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return float((x / panels) / 3.0 * np.dot(weights, _t_pdf(grid, dof)))


def t_quantile(probability: float, dof: int) -> float:
    """The `probability` quantile (> 0.5) of Student's t with `dof` degrees of freedom."""
    if not 0.5 < probability < 1 or dof < 1:
        raise ValueError(f"need 0.5 < probability < 1 and dof >= 1, not {probability}, {dof}")
    low, high = 0.0, 1.0
    while 0.5 + _t_cdf_above_zero(high, dof) < probability:
        low, high = high, 2 * high
    for _ in range(60):  # bisection to well below display precision
        middle = (low + high) / 2
        if 0.5 + _t_cdf_above_zero(middle, dof) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def t_interval(diffs: Sequence[float]) -> tuple[float, float] | None:
    if len(diffs) < 2:
        return None
    mean = statistics.fmean(diffs)
    half = t_quantile(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean - half, mean + half


def bootstrap_interval(diffs: Sequence[float]) -> tuple[float, float] | None:
    if len(diffs) < 2:
        return None
    values = np.asarray(diffs, dtype=np.float64)
    picks = np.random.default_rng(BOOTSTRAP_SEED).integers(
        0, len(values), size=(BOOTSTRAP_SAMPLES, len(values))
    )
    means = values[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _ood_by_run(rows: Sequence[ResultRow], label: str) -> dict[tuple[int, str], float]:
    """OOD accuracy per (seed, held-out domain) of one row (several runs of a key: their mean)."""
    groups: dict[tuple[int, str], list[float]] = {}
    for r in rows:
        if r.label == label:
            groups.setdefault((r.seed, r.test_domain), []).append(r.ood_acc)
    return {key: statistics.fmean(values) for key, values in groups.items()}


def compare(rows: Sequence[ResultRow], label: str, baseline: str) -> PairedComparison | None:
    """`label` against `baseline` over their shared (seed, domain) runs; None if none."""
    mine, theirs = _ood_by_run(rows, label), _ood_by_run(rows, baseline)
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    diffs = [mine[k] - theirs[k] for k in shared]
    t = t_interval(diffs)
    boot = bootstrap_interval(diffs)
    return PairedComparison(
        label,
        baseline,
        len(diffs),
        statistics.fmean(diffs),
        t[0] if t else None,
        t[1] if t else None,
        boot[0] if boot else None,
        boot[1] if boot else None,
    )


# ERM and LP-FT, and the linear probe on the untouched student: the bar a fine-tune must clear
# to show that it carries anything from the source domains to the held-out one.
BASELINES = ("erm", "lp-ft", "erm [linear-probe]")


def paired_comparisons(
    rows: Sequence[ResultRow], labels: Sequence[str], baselines: Sequence[str] = BASELINES
) -> list[PairedComparison]:
    """Every row against each baseline present (a baseline not against itself), then every row
    with a recipe switch on against the same row without its switches, where both ran."""
    found = []
    for baseline in baselines:
        for label in labels:
            if label != baseline and (c := compare(rows, label, baseline)) is not None:
                found.append(c)
    method_of = {r.label: r.method for r in rows}
    for label in labels:
        plain = without_switches(label, method_of[label])
        if plain not in (label, *baselines) and (c := compare(rows, label, plain)) is not None:
            found.append(c)
    return found


def without_switches(label: str, method: str) -> str:
    """The row label `label` would have with the recipe's switches off."""
    knobs = [k for k in knobs_of(label, method) if not is_recipe_switch(k)]
    return f"{method} [{', '.join(knobs)}]" if knobs else method
