"""PNG plots of a summary (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from client_trainer.report.curves import RowCurves
from client_trainer.report.records import Summary, row_stats, sweep_curve


def plot_methods(summary: Summary, path: Path) -> Path:
    """Grouped bars: ID and OOD accuracy per method (mean ± std over domains and seeds)."""
    stats = row_stats(summary.results)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    xs = range(len(stats))
    width = 0.38
    ax.bar(
        [x - width / 2 for x in xs],
        [100 * s.id_mean for s in stats],
        width,
        yerr=[100 * s.id_std for s in stats],
        label="ID (source holdouts)",
        capsize=3,
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [100 * s.ood_mean for s in stats],
        width,
        yerr=[100 * s.ood_std for s in stats],
        label="OOD (held-out domain)",
        capsize=3,
    )
    ax.set_xticks(list(xs), [s.row for s in stats], rotation=20 if len(stats) > 5 else 0)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right")
    ax.set_title("Accuracy per method, leave-one-domain-out")
    return _save(fig, path)


def plot_budget_sweep(summary: Summary, path: Path, ceiling: float | None) -> Path:
    """OOD accuracy against image queries bought (log x), one line per strategy."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for strategy in sorted({r.strategy for r in summary.budget_sweep}):
        curve = sweep_curve(summary.budget_sweep, strategy)
        ax.plot(
            [max(q, 1) for q, _, _ in curve],
            [100 * ood for _, _, ood in curve],
            marker="o",
            label=strategy,
        )
    if ceiling is not None:
        ax.axhline(100 * ceiling, color="grey", linestyle="--", label="teacher zero-shot")
    ax.set_xscale("log")
    ax.set_xlabel("image queries bought (log scale)")
    ax.set_ylabel("OOD accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("Accuracy per query")
    return _save(fig, path)


def plot_curves(curves: list[RowCurves], path: Path) -> Path:
    """Training loss and source-holdout accuracy against the global step, one line per row
    (mean over its runs)."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for c in curves:
        loss = c.mean("loss")
        if loss:
            loss_ax.plot([s for s, _ in loss], [v for _, v in loss], label=c.row, linewidth=1)
        acc = c.mean("holdout_acc")
        if acc:
            acc_ax.plot([s for s, _ in acc], [100 * v for _, v in acc], marker="o", label=c.row)
    loss_ax.set_xlabel("step (all stages)")
    loss_ax.set_ylabel("training loss")
    loss_ax.set_title("Loss")
    acc_ax.set_xlabel("step (all stages)")
    acc_ax.set_ylabel("source-holdout accuracy (%)")
    acc_ax.set_title("Holdout accuracy (model selection)")
    for ax in (loss_ax, acc_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
