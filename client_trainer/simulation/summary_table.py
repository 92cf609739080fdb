"""The results table printed at the end of an experiment."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from client_trainer.report import Summary
from client_trainer.report.records import row_stats


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
