"""`collect`: the table, report and plots of any run directories, from their results.jsonl.

DomainBed's `collect_results`, with what each run cost. Runs that computed the same thing
(same config but for where they ran and under which name) count once. A run that bought every
image it could is a table row (`report.rows.row_label`); VL2V-ADiP runs that bought a share
of the images are budget-sweep points, drawn against the full-budget run and the target
policies of the same setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from client_trainer.report.augment import META_KEY, probe_summary
from client_trainer.report.records import ResultRow, Summary, SweepRow
from client_trainer.report.results import finished_runs, run_identity
from client_trainer.report.writer import write_report

SWEEP_METHOD = "vl2v-adip"
# Fields that tell runs of one table row apart by design (not by a setting that differs).
POINT_FIELDS = ("data.test_domain", "train.seed")
# Fields a budget-sweep point varies against its full-budget run.
BUDGET_FIELDS = ("teacher.image_fraction", "teacher.selection", "teacher.targets")


def collect(
    directories: Sequence[Path], out: Path, command: str, meta: dict[str, Any] | None = None
) -> Summary:
    """Read every run under `directories`, write report.md, summary.json and plots to `out`."""
    lines = list(finished_runs(directories).values())
    if not lines:
        where = ", ".join(str(d) for d in directories)
        raise FileNotFoundError(f"no finished run (results.jsonl) under {where}")
    summary = summary_of(lines, meta or {})
    summary.meta["collected_from"] = [str(d) for d in directories]
    write_report(summary, out, command, [(Path(line["run_dir"]), line["row"]) for line in lines])
    return summary


def _fraction(line: dict[str, Any]) -> float:
    return float(line["config"]["teacher"]["image_fraction"])


def summary_of(lines: Sequence[dict[str, Any]], meta: dict[str, Any]) -> Summary:
    table = [line for line in lines if _fraction(line) >= 1.0]
    results = [_result_row(line) for line in table]
    mixed = mixed_settings(table)
    extra = {"runs": len(lines)} | ({"mixed_settings": mixed} if mixed else {})
    if probe := probe_summary(table):
        extra[META_KEY] = probe
    return Summary(results, sweep_rows(lines), {**meta, **extra})


def _result_row(line: dict[str, Any]) -> ResultRow:
    return ResultRow(
        line["method"],
        line["test_domain"],
        int(line["seed"]),
        float(line["id_acc"]),
        float(line["ood_acc"]),
        int(line["image_queries"]),
        int(line["text_queries"]),
        int(line["list_cost"]),
        line["row"],
    )


def _without(config: dict[str, Any], dotted: Iterable[str]) -> dict[str, Any]:
    copy = json.loads(json.dumps(config))
    for path in dotted:
        section, _, name = path.partition(".")
        copy.get(section, {}).pop(name, None)
    return copy


def _flatten(config: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s, fields in config.items() for k, v in fields.items()}


def mixed_settings(lines: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Per table row, the settings its runs disagree on (beyond domain and seed): a row that
    averages runs of different recipes says so in the report."""
    by_row: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        kept = json.loads(run_identity(_without(line["config"], POINT_FIELDS)))
        by_row.setdefault(line["row"], []).append(_flatten(kept))
    mixed = {}
    for row, configs in by_row.items():
        keys = sorted({k for c in configs for k in c})
        differing = [k for k in keys if len({json.dumps(c.get(k)) for c in configs}) > 1]
        if differing:
            mixed[row] = differing
    return mixed


def sweep_rows(lines: Sequence[dict[str, Any]]) -> list[SweepRow]:
    """Budget-sweep points of VL2V-ADiP: each share of images bought per selection strategy,
    with the full-budget run of the same setting as every strategy's 100 % point, and the
    full-budget target policies as `policy:<targets>` points."""
    adip = [line for line in lines if line["method"] == SWEEP_METHOD]
    groups: dict[str, list[dict[str, Any]]] = {}
    for line in adip:
        groups.setdefault(run_identity(_without(line["config"], BUDGET_FIELDS)), []).append(line)
    rows: list[SweepRow] = []
    for group in groups.values():
        partial = [line for line in group if _fraction(line) < 1.0]
        if not partial:
            continue
        full = [line for line in group if _fraction(line) >= 1.0]
        clean = [line for line in full if _targets(line) == "clean"]
        strategies = sorted({line["config"]["teacher"]["selection"] for line in partial})
        for line in clean:
            rows += [_sweep_row(s, 1.0, line) for s in strategies]
            rows.append(_sweep_row("policy:clean", 1.0, line))
        rows += [
            _sweep_row(line["config"]["teacher"]["selection"], _fraction(line), line)
            for line in partial
        ]
        rows += [_sweep_row(f"policy:{_targets(line)}", 1.0, line) for line in full
                 if _targets(line) != "clean"]  # fmt: skip
    return rows


def _targets(line: dict[str, Any]) -> str:
    return str(line["config"]["teacher"]["targets"])


def _sweep_row(strategy: str, budget: float, line: dict[str, Any]) -> SweepRow:
    return SweepRow(
        strategy,
        budget,
        int(line["image_queries"]),
        float(line["id_acc"]),
        float(line["ood_acc"]),
        line["test_domain"],
        int(line["seed"]),
    )
