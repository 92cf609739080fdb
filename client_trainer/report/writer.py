"""Write summary.json, report.md and the plots of one experiment into its output folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import orjson

from client_trainer.report.augment import augment_section
from client_trainer.report.curves import row_curves
from client_trainer.report.paired import PairedComparison, paired_comparisons
from client_trainer.report.plots import plot_budget_sweep, plot_curves, plot_methods
from client_trainer.report.records import (
    Summary,
    queries_to_reach,
    row_order,
    row_stats,
    sweep_curve,
)


def write_report(
    summary: Summary, out_dir: Path, command: str, runs: Sequence[tuple[Path, str]] = ()
) -> Path:
    """Everything a reader needs, produced by `command` (quoted in the report); `runs` are
    (run directory, table row) pairs whose log.jsonl curves are plotted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paired = paired_comparisons(summary.results, row_order(summary.results))
    data = summary.to_json() | {"paired_ood": [asdict(c) for c in paired]}
    (out_dir / "summary.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    plots = []
    if summary.results:
        plots.append(plot_methods(summary, out_dir / "methods.png"))
    if summary.budget_sweep:
        plots.append(plot_budget_sweep(summary, out_dir / "budget_sweep.png", _ceiling(summary)))
    curves = row_curves([d for d, _ in runs], [r for _, r in runs])
    if curves:
        plots.append(plot_curves(curves, out_dir / "curves.png"))
    report = out_dir / "report.md"
    text = render_markdown(summary, command, [p.name for p in plots], paired)
    report.write_text(text)
    return report


def _ceiling(summary: Summary) -> float | None:
    """The teacher's zero-shot OOD accuracy on the sweep's held-out domain(s)."""
    domains = {r.test_domain for r in summary.budget_sweep}
    rows = [r for r in summary.results if r.method == "zero-shot" and r.test_domain in domains]
    return sum(r.ood_acc for r in rows) / len(rows) if rows else None


def render_markdown(
    summary: Summary, command: str, plots: list[str], paired: Sequence[PairedComparison] = ()
) -> str:
    lines = ["# Experiment report", "", f"Produced by `{command}`.", ""]
    if regime := summary.meta.get("regime"):
        lines += [f"The runs' {regime}.", ""]
    lines += methods_table(summary)
    lines += paired_section(paired)
    lines += mixed_section(summary)
    lines += augment_section(summary)
    lines += sweep_section(summary)
    lines += [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def methods_table(summary: Summary) -> list[str]:
    if not summary.results:
        return []
    domains = sorted({r.test_domain for r in summary.results})
    seeds = sorted({r.seed for r in summary.results})
    lines = [
        f"## Methods (held-out domains: {', '.join(domains)}; seeds: {len(seeds)})",
        "",
        "| method | runs | ID acc (%) | OOD acc (%) | OOD seed std | image queries | text queries"
        " | credits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in row_stats(summary.results):
        lines.append(
            f"| {s.row} | {s.runs} | {100 * s.id_mean:.1f} ± {100 * s.id_std:.1f} "
            f"| {100 * s.ood_mean:.1f} ± {100 * s.ood_std:.1f} | {100 * s.ood_seed_std:.1f} "
            f"| {s.image_queries} "
            f"| {s.text_queries} | {s.cost} |"
        )
    lines += [
        "",
        "Mean ± std over held-out domains and seeds; `OOD seed std` is the std over seeds of"
        " each seed's mean over the held-out domains. Queries are what the row's runs used, bought"
        " or read from the cache an earlier run filled; credits are those queries at the vendor's"
        " list prices: what the row costs on its own.",
        "",
    ]
    lines += per_domain_table(summary, domains)
    return lines


def per_domain_table(summary: Summary, domains: list[str]) -> list[str]:
    """OOD, then ID (its source holdouts), per held-out domain: mean ± std over seeds."""
    lines = []
    for kind in ("OOD", "ID"):
        lines.append("| method | " + " | ".join(f"{kind} {d}" for d in domains) + " |")
        lines.append("|---|" + "---|" * len(domains))
        for s in row_stats(summary.results):
            cells = []
            for d in domains:
                rows = [r for r in summary.results if r.label == s.row and r.test_domain == d]
                cells.append(_mean_std_cell([r.ood_acc if kind == "OOD" else r.id_acc
                                             for r in rows]))  # fmt: skip
            lines.append(f"| {s.row} | " + " | ".join(cells) + " |")
        lines.append("")
    return [*lines, "Per held-out domain: mean ± std over seeds; ID is the accuracy on the"
            " source domains' holdouts of the runs that held that domain out.", ""]  # fmt: skip


def _mean_std_cell(values: list[float]) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{100 * mean:.1f}"
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _points(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f}"


def paired_section(paired: Sequence[PairedComparison]) -> list[str]:
    if not paired:
        return []
    lines = [
        "## Paired comparison with ERM, LP-FT, the linear probe and the row without its"
        " switches (OOD)",
        "",
        "| row | against | pairs | mean difference (points) | 95 % CI, paired t"
        " | 95 % CI, paired bootstrap |",
        "|---|---|---|---|---|---|",
    ]
    for c in paired:
        lines.append(
            f"| {c.row} | {c.baseline} | {c.pairs} | {_points(c.mean_diff)} "
            f"| [{_points(c.t_low)}, {_points(c.t_high)}] "
            f"| [{_points(c.boot_low)}, {_points(c.boot_high)}] |"
        )
    lines += [
        "",
        "OOD accuracy of the row minus the baseline's, over the (seed, held-out domain) runs"
        " both have; an interval that excludes 0 says the row differs from the baseline at the"
        " 95 % level (none with fewer than 2 pairs). With few pairs the bootstrap interval is"
        " too narrow (it sees no more spread than the pairs show): below about 10 pairs, read"
        " the t interval.",
        "",
    ]
    return lines


def mixed_section(summary: Summary) -> list[str]:
    mixed: dict[str, list[str]] = summary.meta.get("mixed_settings") or {}
    if not mixed:
        return []
    lines = ["## Rows that average different settings", ""]
    lines += [f"- {row}: runs differ in {', '.join(fields)}" for row, fields in mixed.items()]
    return [*lines, ""]


def sweep_section(summary: Summary) -> list[str]:
    if not summary.budget_sweep:
        return []
    strategies = sorted({r.strategy for r in summary.budget_sweep})
    lines = ["## Query budget", "", "| strategy | image queries | ID acc (%) | OOD acc (%) |"]
    lines.append("|---|---|---|---|")
    for strategy in strategies:
        for queries, id_acc, ood_acc in sweep_curve(summary.budget_sweep, strategy):
            lines.append(f"| {strategy} | {queries} | {100 * id_acc:.1f} | {100 * ood_acc:.1f} |")
    full = full_budget_ood(summary)
    if full is not None:
        lines += [
            "",
            f"Image queries to reach 95 % of full-budget VL2V-ADiP OOD accuracy "
            f"({100 * full:.1f} %):",
            "",
        ]
        for strategy in strategies:
            needed = queries_to_reach(summary.budget_sweep, strategy, 0.95 * full)
            lines.append(f"- {strategy}: {needed if needed is not None else 'not reached'}")
    return [*lines, ""]


def full_budget_ood(summary: Summary) -> float | None:
    """VL2V-ADiP's OOD accuracy with every image bought: the sweep's budget-1.0 points, else
    the method table's vl2v-adip mean."""
    full = [
        r.ood_acc
        for r in summary.budget_sweep
        if r.budget >= 1.0 and not r.strategy.startswith("policy:")
    ]
    if full:
        return sum(full) / len(full)
    adip = [s for s in row_stats(summary.results) if s.row == "vl2v-adip"]
    return adip[0].ood_mean if adip else None
