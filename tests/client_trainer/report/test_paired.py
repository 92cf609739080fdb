"""Paired comparisons: Student's t quantiles, the two intervals, pairing by (seed, domain)."""

from __future__ import annotations

import pytest

from client_trainer.report.paired import (
    bootstrap_interval,
    compare,
    paired_comparisons,
    t_interval,
    t_quantile,
)
from client_trainer.report.records import ResultRow


@pytest.mark.parametrize(
    ("dof", "quantile"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (19, 2.0930), (200, 1.9719)]
)
def test_t_quantiles_match_the_tables(dof: int, quantile: float) -> None:
    assert t_quantile(0.975, dof) == pytest.approx(quantile, abs=1e-4)


def test_intervals_cover_the_mean_and_need_two_pairs() -> None:
    diffs = [0.01, 0.03, 0.02, 0.05, 0.04]
    low, high = t_interval(diffs)  # type: ignore[misc]
    # mean 0.03, sd 0.0158, half-width 2.7764 * 0.0158 / sqrt(5) = 0.0196
    assert (low, high) == pytest.approx((0.03 - 0.01963, 0.03 + 0.01963), abs=1e-4)
    boot_low, boot_high = bootstrap_interval(diffs)  # type: ignore[misc]
    assert 0.01 <= boot_low < 0.03 < boot_high <= 0.05
    assert bootstrap_interval(diffs) == (boot_low, boot_high)  # seeded: the same every time
    assert t_interval([0.1]) is None and bootstrap_interval([0.1]) is None


def _row(label: str, seed: int, domain: str, ood: float) -> ResultRow:
    return ResultRow(label.split(" ")[0], domain, seed, 0.9, ood, 0, 0, 0, label)


def test_pairs_are_the_seed_and_domain_runs_both_rows_have() -> None:
    rows = [
        _row("erm", 0, "a", 0.70), _row("erm", 0, "b", 0.60), _row("erm", 1, "a", 0.72),
        _row("kd [views:4]", 0, "a", 0.75), _row("kd [views:4]", 0, "b", 0.64),
        _row("kd [views:4]", 2, "a", 0.99),  # no ERM run of seed 2: not a pair
    ]  # fmt: skip
    found = compare(rows, "kd [views:4]", "erm")
    assert found is not None and found.pairs == 2
    assert found.mean_diff == pytest.approx(0.045)
    assert compare(rows, "kd [views:4]", "lp-ft") is None
    every = paired_comparisons(rows, ["erm", "kd [views:4]"])
    labels = [c.row + " vs " + c.baseline for c in every]
    assert labels == ["kd [views:4] vs erm"]  # ERM not against itself; no LP-FT rows


def test_a_row_with_recipe_switches_is_paired_with_the_row_without_them() -> None:
    rows = [
        _row(label, seed, domain, ood + 0.01 * seed)
        for seed in (0, 1)
        for domain in ("a", "b")
        for label, ood in (
            ("erm", 0.70), ("erm [frozen bn]", 0.72),
            ("vl2v-adip [views:1]", 0.74), ("vl2v-adip [views:1, frozen bn, swad valley]", 0.71),
            ("kd [swad tail]", 0.60),  # its plain row did not run: no pair
        )
    ]  # fmt: skip
    labels = list(dict.fromkeys(r.label for r in rows))
    every = {(c.row, c.baseline): c for c in paired_comparisons(rows, labels)}
    switched = every["vl2v-adip [views:1, frozen bn, swad valley]", "vl2v-adip [views:1]"]
    assert switched.pairs == 4 and switched.mean_diff == pytest.approx(-0.03)
    assert ("erm [frozen bn]", "erm") in every  # once, as against the ERM baseline
    assert [key for key in every if key[0] == "kd [swad tail]"] == [("kd [swad tail]", "erm")]


def test_the_linear_probe_is_a_baseline() -> None:
    rows = [
        _row(label, seed, "a", ood)
        for seed in (0, 1)
        for label, ood in (("erm [linear-probe]", 0.8), ("vl2v-adip [views:1]", 0.81))
    ]
    (found,) = paired_comparisons(rows, ["erm [linear-probe]", "vl2v-adip [views:1]"])
    assert (found.row, found.baseline) == ("vl2v-adip [views:1]", "erm [linear-probe]")
    assert found.mean_diff == pytest.approx(0.01)
