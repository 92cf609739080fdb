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
    its 95 % paired-t interval, as the report has them; nothing when no pair exists."""
    found = paired_comparisons(summary.results, row_order(summary.results))
    if not found:
        return
    table = Table(title="OOD minus a baseline's, pair by pair: points, 95 % paired-t interval")
    table.add_column("row", no_wrap=True, min_width=max(len(c.row) for c in found))
    table.add_column("against", no_wrap=True)
    table.add_column("pairs", justify="right")
    table.add_column("points", justify="right", no_wrap=True, min_width=len("-100.0"))
    table.add_column("95 %", justify="right", no_wrap=True, min_width=len("[-100.0, -100.0]"))
    for c in found:
        table.add_row(Text(c.row), Text(c.baseline), str(c.pairs), _points(c.mean_diff),
                      _interval(c))  # fmt: skip
    console.print(table)


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _interval(c: PairedComparison) -> str:
    if c.t_low is None or c.t_high is None:
        return "–"
    return f"[{_points(c.t_low)}, {_points(c.t_high)}]"
