"""Write summary.json, report.md and the plots of one experiment into its run directory."""

from __future__ import annotations

from pathlib import Path

import orjson

from client_trainer.report.plots import plot_budget_sweep, plot_methods
from client_trainer.report.records import Summary, method_stats, queries_to_reach, sweep_curve


def write_report(summary: Summary, out_dir: Path, command: str) -> Path:
    """Everything a reader needs, produced by `command` (quoted in the report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_bytes(
        orjson.dumps(summary.to_json(), option=orjson.OPT_INDENT_2)
    )
    plots = []
    if summary.results:
        plots.append(plot_methods(summary, out_dir / "methods.png"))
    if summary.budget_sweep:
        plots.append(plot_budget_sweep(summary, out_dir / "budget_sweep.png", _ceiling(summary)))
    report = out_dir / "report.md"
    report.write_text(render_markdown(summary, command, [p.name for p in plots]))
    return report


def _ceiling(summary: Summary) -> float | None:
    """The teacher's zero-shot OOD accuracy on the sweep's held-out domain(s)."""
    domains = {r.test_domain for r in summary.budget_sweep}
    rows = [r for r in summary.results if r.method == "zero-shot" and r.test_domain in domains]
    return sum(r.ood_acc for r in rows) / len(rows) if rows else None


def render_markdown(summary: Summary, command: str, plots: list[str]) -> str:
    lines = ["# Experiment report", "", f"Produced by `{command}`.", ""]
    lines += methods_table(summary)
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
        " | cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in method_stats(summary.results):
        lines.append(
            f"| {s.method} | {s.runs} | {100 * s.id_mean:.1f} ± {100 * s.id_std:.1f} "
            f"| {100 * s.ood_mean:.1f} ± {100 * s.ood_std:.1f} | {100 * s.ood_seed_std:.1f} "
            f"| {s.image_queries} "
            f"| {s.text_queries} | {s.cost} |"
        )
    lines += [
        "",
        "Mean ± std over held-out domains and seeds; `OOD seed std` is the std over seeds of"
        " each seed's mean over the held-out domains.",
        "",
    ]
    lines += per_domain_table(summary, domains)
    return lines


def per_domain_table(summary: Summary, domains: list[str]) -> list[str]:
    lines = ["| method | " + " | ".join(f"OOD {d}" for d in domains) + " |"]
    lines.append("|---|" + "---|" * len(domains))
    for s in method_stats(summary.results):
        cells = []
        for d in domains:
            rows = [
                r.ood_acc for r in summary.results if r.method == s.method and r.test_domain == d
            ]
            cells.append(f"{100 * sum(rows) / len(rows):.1f}" if rows else "–")
        lines.append(f"| {s.method} | " + " | ".join(cells) + " |")
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
    adip = [s for s in method_stats(summary.results) if s.method == "vl2v-adip"]
    return adip[0].ood_mean if adip else None
