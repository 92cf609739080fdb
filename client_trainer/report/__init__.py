"""Results of an experiment as the user sees them: summary.json, report.md and PNG plots."""

from client_trainer.report.records import ResultRow, Summary, SweepRow
from client_trainer.report.writer import write_report

__all__ = ["ResultRow", "Summary", "SweepRow", "write_report"]
