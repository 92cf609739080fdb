"""The table's runs: one row per target policy for the methods that buy image targets, the
linear probe and ADiP's align stage as rows of their own, unique run names, and a rerun that
runs nothing twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from client_trainer.config import RunConfig
from client_trainer.report.rows import row_label
from client_trainer.simulation.experiments import table_specs
from client_trainer.simulation.jobs import all_methods, target_policies, uses_targets
from client_trainer.simulation.runner import run_specs
from tests.support.live_vendor import LiveVendor
from tests.support.run_config import with_vendor

POLICIES = ("clean", "views:2", "per-step")
TARGET_METHODS = ("kd", "vl2v-adip-align", "vl2v-adip")


def test_every_method_includes_the_linear_probe_and_the_align_stage() -> None:
    methods = all_methods()
    assert methods[:7] == ("zero-shot", "linear-probe", "erm", "lp-ft", "kd",
                           "vl2v-adip-align", "vl2v-adip")  # fmt: skip
    assert [m for m in methods if uses_targets(m)] == list(TARGET_METHODS)


def test_policies_expand_only_the_methods_that_buy_image_targets(quick: RunConfig) -> None:
    specs = table_specs(("alpha", "beta"), all_methods(), (0, 1), "t-", POLICIES)
    per_point = 4 + len(TARGET_METHODS) * len(POLICIES)  # zero-shot, linear probe, ERM, LP-FT
    assert len(specs) == 2 * 2 * per_point
    names = [s.overrides["output.run_name"] for s in specs]
    assert len(set(names)) == len(names)
    assert "t-table-beta-vl2v-adip-s1" in names  # clean keeps the name a table had before
    assert "t-table-beta-kd-views:2-s1" in names
    assert "t-table-alpha-linear-probe-s0" in names
    rows = Counter(row_label(quick.with_overrides(s.overrides)) for s in specs)
    expected = {"zero-shot", "erm [linear-probe]", "erm", "lp-ft"} | {
        m if p == "clean" else f"{m} [{p}]" for m in TARGET_METHODS for p in POLICIES
    }
    assert set(rows) == expected and set(rows.values()) == {4}  # 2 domains x 2 seeds each


def test_a_method_can_have_policies_of_its_own(quick: RunConfig) -> None:
    """The demo's table: ADiP clean and per-step, every other method once; a policy list
    given for every method wins over a method's own."""
    own = {"vl2v-adip": ("clean", "per-step")}
    specs = table_specs(("alpha",), ("erm", "kd", "vl2v-adip"), (0,), "t-", (), own)
    rows = [row_label(quick.with_overrides(s.overrides)) for s in specs]
    assert rows == ["erm", "kd", "vl2v-adip", "vl2v-adip [per-step]"]
    everyone = table_specs(("alpha",), ("kd", "vl2v-adip"), (0,), "t-", ("views:2",), own)
    assert [row_label(quick.with_overrides(s.overrides)) for s in everyone] == [
        "kd [views:2]",
        "vl2v-adip [views:2]",
    ]


def test_without_policies_the_table_is_as_before() -> None:
    (spec,) = table_specs(("alpha",), ("vl2v-adip",), (0,), "t-")
    assert spec.overrides == {
        "train.method": "vl2v-adip",
        "data.test_domain": "alpha",
        "train.seed": 0,
        "output.run_name": "t-table-alpha-vl2v-adip-s0",
    }


def test_target_policies_are_checked() -> None:
    assert target_policies(" clean, views:4 ,per-step") == ("clean", "views:4", "per-step")
    assert target_policies(None) == ()
    with pytest.raises(ValueError, match="targets must be"):
        target_policies("clean,views:0")


@pytest.mark.timeout(300)
def test_policy_rows_run_once_and_a_rerun_runs_none(
    vendor: LiveVendor, redis_url: str, redis_prefix: str, quick: RunConfig, tmp_path: Path
) -> None:
    _, key = vendor.create_key(10**6)
    config = with_vendor(quick, vendor.base_url, key, redis_url, redis_prefix)
    config = config.with_overrides({"output.out_dir": tmp_path / "runs", "train.steps": 2})
    specs = table_specs(("gamma",), ("linear-probe", "kd"), (0,), "t-", ("clean", "views:2"))
    said: list[str] = []
    lines = run_specs(config, specs, said.append)
    assert sorted(line["row"] for line in lines) == ["erm [linear-probe]", "kd", "kd [views:2]"]
    views = next(line for line in lines if line["row"] == "kd [views:2]")
    clean = next(line for line in lines if line["row"] == "kd")
    assert views["image_queries"] == 2 * clean["image_queries"] > 0
    said.clear()
    assert run_specs(config, specs, said.append) == lines
    assert said == [f"3 of 3 runs finished earlier (results.jsonl under {tmp_path / 'runs'}):"
                    " not run again"]  # fmt: skip
