"""The results table printed at the end of an experiment."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from client_trainer.report import Summary
from client_trainer.report.paired import PairedComparison, paired_comparisons
from client_trainer.report.records import row_order, row_stats


def print_methods(console: Console, summary: Summary) -> None:
    """One line per table row, its whole label shown (`vl2v-adip [per-step]`: plain text, not
    rich markup, whose tags look the same) at any width."""
    table = Table(title="Accuracy per method (mean ± std over held-out domains and seeds)")
    stats = row_stats(summary.results)
    table.add_column("method", no_wrap=True, min_width=max((len(s.row) for s in stats), default=6))
    for column in ("runs", "ID acc %", "OOD acc %", "image queries", "credits"):
        table.add_column(column, justify="right")
    for s in stats:
        table.add_row(
            Text(s.row),
            str(s.runs),
            f"{100 * s.id_mean:.1f} ± {100 * s.id_std:.1f}",
            f"{100 * s.ood_mean:.1f} ± {100 * s.ood_std:.1f}",
            str(s.image_queries),
            str(s.cost),
        )
    console.print(table)


def print_paired(console: Console, summary: Summary) -> None:
    """Each row against ERM, LP-FT and the linear probe (and a row with recipe switches against
    the row without them), pair by pair over (seed, held-out domain): mean OOD difference and
    its 95 % paired-t interval, as the report has them; nothing when no pair exists. One line a
    pair, so a long row label wraps instead of being cut."""
    found = paired_comparisons(summary.results, row_order(summary.results))
    if not found:
        return
    console.print(
        "OOD minus the baseline's, pair by pair over (seed, held-out domain):"
        " points and 95 % paired-t interval", style="bold", highlight=False,
    )  # fmt: skip
    by_baseline: dict[str, list[PairedComparison]] = {}
    for c in found:
        by_baseline.setdefault(c.baseline, []).append(c)
    for baseline, group in by_baseline.items():
        console.print(Text(f"against {baseline}:"))
        for c in group:
            line = f"  {c.row}: {_points(c.mean_diff)} {_interval(c)} ({c.pairs} pairs)"
            console.print(Text(line))


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _interval(c: PairedComparison) -> str:
    if c.t_low is None or c.t_high is None:
        return "–"
    return f"[{_points(c.t_low)}, {_points(c.t_high)}]"
