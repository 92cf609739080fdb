"""The results table printed at the end of an experiment."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from client_trainer.report import Summary
from client_trainer.report.records import row_stats


def print_methods(console: Console, summary: Summary) -> None:
    table = Table(title="Accuracy per method (mean ± std over held-out domains and seeds)")
    for column in ("method", "runs", "ID acc %", "OOD acc %", "image queries", "credits"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for s in row_stats(summary.results):
        table.add_row(
            s.row,
            str(s.runs),
            f"{100 * s.id_mean:.1f} ± {100 * s.id_std:.1f}",
            f"{100 * s.ood_mean:.1f} ± {100 * s.ood_std:.1f}",
            str(s.image_queries),
            str(s.cost),
        )
    console.print(table)
