"""collect: the table, sweep, paired comparisons and curves of any run directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client_trainer.config import RunConfig
from client_trainer.report.collect import collect
from client_trainer.report.results import append_result, result_line

PRICES = (10, 1)


def _run(root: Path, name: str, ood: float, **fields: Any) -> Path:
    """A finished run directory: its results line (and nothing else)."""
    config = RunConfig().with_overrides({"output.run_name": name, **fields})
    metrics = {"test_domain": config.data.test_domain, "id_acc": 0.9, "ood_acc": ood,
               "image_queries": 5, "image_cache_hits": 95, "text_queries": 7, "cost": 57,
               "wall_s": 1.0}  # fmt: skip
    directory = root / name
    directory.mkdir(parents=True)
    append_result(directory, result_line(config, metrics, PRICES))
    return directory


def _log(directory: Path, losses: list[float], accs: dict[int, float]) -> None:
    """A log.jsonl as the training loop writes it (fixture)."""
    with (directory / "log.jsonl").open("w") as file:
        for step, loss in enumerate(losses, start=1):
            record: dict[str, Any] = {"step": step, "stage": "train", "stage_step": step,
                                      "loss": loss, "loss_terms": {}, "lr": 1e-3,
                                      "images_per_s": 100.0}  # fmt: skip
            if step in accs:
                record["holdout_acc"] = accs[step]
            file.write(json.dumps(record) + "\n")
        file.write('{"step": 9, "loss": ')  # a kill mid-line is skipped


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for seed, (erm, adip) in enumerate([(0.70, 0.74), (0.60, 0.66)]):
        for domain in ("photo", "sketch"):
            common = {"data.test_domain": domain, "train.seed": seed}
            e = _run(root, f"erm-{domain}-{seed}", erm, **common, **{"train.method": "erm"})
            a = _run(root / "nested", f"adip-{domain}-{seed}", adip, **common)
            _log(e, [2.0, 1.5, 1.0], {2: 0.5, 3: 0.7})
            _log(a, [-0.2, -0.5, -0.7], {3: 0.8})
    sweep = {"data.test_domain": "sketch", "train.seed": 0}
    _run(root, "sweep-5", 0.5, **sweep, **{"teacher.image_fraction": 0.05})
    _run(root, "sweep-views", 0.8, **sweep, **{"teacher.targets": "views:4"})
    return root


def test_collect_writes_table_sweep_paired_and_curves(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    summary = collect([runs], out, "python -m client_trainer collect runs")
    rows = {(r.label, r.test_domain, r.seed) for r in summary.results}
    assert ("erm", "photo", 1) in rows and ("vl2v-adip [views:4]", "sketch", 0) in rows
    assert len(summary.results) == 9  # the 5 % run is a sweep point, not a table row
    assert all(r.cost == 100 * 10 + 7 for r in summary.results)  # used queries, list prices
    sweep = {(p.strategy, p.budget): p.ood_acc for p in summary.budget_sweep}
    assert sweep == {("random", 0.05): 0.5, ("random", 1.0): 0.74, ("policy:clean", 1.0): 0.74,
                     ("policy:views:4", 1.0): 0.8}  # fmt: skip
    data = json.loads((out / "summary.json").read_text())
    (vs_erm,) = [c for c in data["paired_ood"] if c["row"] == "vl2v-adip"]
    assert vs_erm["pairs"] == 4 and vs_erm["mean_diff"] == pytest.approx(0.05)
    report = (out / "report.md").read_text()
    assert "| vl2v-adip | erm | 4 | +5.0 |" in report
    assert "![curves.png](curves.png)" in report
    for png in ("methods.png", "budget_sweep.png", "curves.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")


def test_runs_of_the_same_config_count_once_and_mixed_rows_are_flagged(
    runs: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    _run(copy, "erm-photo-0", 0.70, **{"data.test_domain": "photo", "train.method": "erm"})
    _run(copy, "erm-faster", 0.10, **{"data.test_domain": "cartoon", "train.method": "erm",
                                       "train.lr": 1e-3})  # fmt: skip
    summary = collect([runs, copy], tmp_path / "out", "collect")
    erm = [r for r in summary.results if r.label == "erm"]
    assert len(erm) == 5  # 4 + the cartoon run; the copy of erm-photo-0 counts once
    assert summary.meta["mixed_settings"] == {"erm": ["train.lr"]}
    assert "- erm: runs differ in train.lr" in (tmp_path / "out" / "report.md").read_text()


def test_nothing_to_collect_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no finished run"):
        collect([tmp_path], tmp_path / "out", "collect")


def test_policy_probe_and_align_rows_have_queries_credits_and_paired_intervals(
    tmp_path: Path,
) -> None:
    root = tmp_path / "runs"
    rows = {
        "erm": ({"train.method": "erm"}, 0.70),
        "lp-ft": ({"train.method": "lp-ft"}, 0.72),
        "probe": ({"train.method": "erm", "train.erm_variant": "linear-probe"}, 0.75),
        "align": ({"train.method": "vl2v-adip-align"}, 0.73),
        "clean": ({"train.method": "vl2v-adip"}, 0.71),
        "step": ({"train.method": "vl2v-adip", "teacher.targets": "per-step"}, 0.78),
    }
    for seed in (0, 1):
        for shift, domain in enumerate(("photo", "sketch")):
            for name, (fields, ood) in rows.items():
                point = {"data.test_domain": domain, "train.seed": seed}
                _run(
                    root, f"{name}-{domain}-{seed}", ood + 0.01 * (shift + seed), **point, **fields
                )
    summary = collect([root], tmp_path / "out", "collect")
    assert summary.budget_sweep == []  # every image bought: policies are table rows here
    report = (tmp_path / "out" / "report.md").read_text()
    order = ["zero-shot", "erm [linear-probe]", "erm", "lp-ft", "vl2v-adip-align", "vl2v-adip",
             "vl2v-adip [per-step]"]  # fmt: skip
    table = [line.split(" | ")[0][2:] for line in report.splitlines() if line.startswith("| ")]
    assert [row for row in table[1:] if row in order][:6] == order[1:]
    credits = 4 * (100 * 10 + 7)  # 4 runs, each 100 images and 7 texts at list prices
    assert (
        f"| vl2v-adip [per-step] | 4 | 90.0 ± 0.0 | 79.0 ± 0.7 | 0.5 | 400 | 28 | {credits} |"
        in report
    )
    assert "| vl2v-adip [per-step] | erm | 4 | +8.0 | [+8.0, +8.0] | [+8.0, +8.0] |" in report
    assert "| erm [linear-probe] | lp-ft | 4 | +3.0 |" in report
    assert "| vl2v-adip-align | lp-ft | 4 | +1.0 |" in report


def _probe(flip: float) -> dict[str, Any]:
    cosines = {"none": 0.99, "flip": flip, "shift": 0.97, "crop-scale": 0.9,
               "brightness-contrast": 0.93, "color-jitter": 0.8, "grayscale": 0.96}  # fmt: skip
    kept = [f for f, c in cosines.items() if f != "none" and c >= 0.95]
    return {"images": 64, "threshold": 0.95, "cosines": cosines, "kept": kept}


def test_the_augmentation_probe_is_a_report_section_counting_each_probe_once(
    tmp_path: Path,
) -> None:
    root = tmp_path / "runs"
    for method, domain, flip in [("kd", "photo", 0.98), ("vl2v-adip", "photo", 0.98),
                                 ("vl2v-adip", "sketch", 0.94)]:  # fmt: skip
        config = RunConfig().with_overrides({
            "train.method": method, "data.test_domain": domain,
            "train.augment": "teacher-consistent", "output.run_name": f"{method}-{domain}",
        })  # fmt: skip
        metrics = {"test_domain": domain, "id_acc": 0.9, "ood_acc": 0.7, "image_queries": 5,
                   "text_queries": 7, "cost": 57, "wall_s": 1.0,
                   "augment": {"setting": "teacher-consistent", "probe": _probe(flip)}}  # fmt: skip
        (root / method / domain).mkdir(parents=True)
        append_result(root / method / domain, result_line(config, metrics, PRICES))
    summary = collect([root], tmp_path / "out", "collect")
    assert summary.meta["augment_probe"]["probes"] == 2  # kd and ADiP on photo share one
    assert summary.meta["augment_probe"]["cosines"]["flip"] == pytest.approx(0.96)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Teacher-consistent augmentation (clean targets)" in report
    assert "| flip | 0.960 | 1 of 2 |" in report
    assert "| shift | 0.970 | 2 of 2 |" in report
    assert "| color-jitter | 0.800 | 0 of 2 |" in report
    assert "vl2v-adip [teacher-consistent aug]" in report
