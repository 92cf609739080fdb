from __future__ import annotations

import json
from pathlib import Path

from client_trainer.report import ResultRow, Summary, SweepRow, write_report
from client_trainer.report.records import queries_to_reach, row_stats
from client_trainer.report.writer import render_markdown


def _summary() -> Summary:
    results = [
        ResultRow("vl2v-adip", d, 0, 0.9, ood, 100, 7, 1007)
        for d, ood in [("photo", 0.8), ("sketch", 0.6)]
    ] + [ResultRow("zero-shot", d, 0, 0.95, 0.9, 120, 7, 1207) for d in ["photo", "sketch"]]
    sweep = [
        SweepRow("random", b, q, 0.8, ood, d)
        for b, q, ood in [(0.1, 10, 0.5), (0.5, 50, 0.68), (1.0, 100, 0.7)]
        for d in ["photo", "sketch"]
    ]
    return Summary(results, sweep, {"vendor_model": "m"})


def test_row_stats_mean_and_std() -> None:
    stats = {s.row: s for s in row_stats(_summary().results)}
    assert list(stats) == ["zero-shot", "vl2v-adip"]
    assert abs(stats["vl2v-adip"].ood_mean - 0.7) < 1e-9
    assert abs(stats["vl2v-adip"].ood_std - 0.1) < 1e-9
    assert stats["vl2v-adip"].image_queries == 200


def test_queries_to_reach_uses_the_cheapest_point_that_reaches() -> None:
    sweep = _summary().budget_sweep
    assert queries_to_reach(sweep, "random", 0.95 * 0.7) == 50
    assert queries_to_reach(sweep, "random", 0.99) is None


def test_write_report_writes_summary_markdown_and_plots(tmp_path: Path) -> None:
    report = write_report(_summary(), tmp_path, "python -m client_trainer demo")
    data = json.loads((tmp_path / "summary.json").read_text())
    assert set(data) >= {"results", "budget_sweep", "vendor_model"}
    assert data["results"][0]["method"] == "vl2v-adip"
    text = report.read_text()
    assert "python -m client_trainer demo" in text
    assert "| vl2v-adip | 2 | 90.0 ± 0.0 | 70.0 ± 10.0 | 0.0 |" in text
    assert "- random: 50" in text
    for png in ("methods.png", "budget_sweep.png"):
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG")
    assert Summary.from_json(data).results == _summary().results


def test_seed_std_is_over_per_seed_means() -> None:
    rows = [
        ResultRow("kd", d, seed, 0.9, ood, 0, 0, 0)
        for seed, oods in [(0, (0.6, 0.8)), (1, (0.8, 1.0))]
        for d, ood in zip(("a", "b"), oods, strict=True)
    ]
    (stats,) = row_stats(rows)
    assert abs(stats.ood_seed_std - 0.1) < 1e-9  # seed means 0.7 and 0.9


def test_the_report_says_which_regime_its_runs_trained_in() -> None:
    summary = _summary()
    assert "recipe:" not in render_markdown(summary, "demo", [])
    summary.meta["regime"] = "recipe: 150 steps a stage: a short run"
    assert "The runs' recipe: 150 steps a stage: a short run." in render_markdown(summary, "x", [])
