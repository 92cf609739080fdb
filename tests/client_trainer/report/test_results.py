"""results.jsonl: one line per finished run; a line cut short is no result; what counts as
the same run."""

from __future__ import annotations

import json
from pathlib import Path

from client_trainer.config import RunConfig
from client_trainer.report.results import (
    RESULTS_FILE,
    append_result,
    finished_runs,
    last_result,
    result_line,
    run_identity,
)

METRICS = {"test_domain": "sketch", "id_acc": 0.9, "ood_acc": 0.7, "image_queries": 10,
           "image_cache_hits": 90, "text_queries": 0, "text_cache_hits": 7, "cost": 100,
           "wall_s": 1.5}  # fmt: skip


def test_line_counts_what_the_run_used_at_list_prices() -> None:
    config = RunConfig().with_overrides({"train.method": "kd", "teacher.targets": "views:2"})
    line = result_line(config, METRICS, (10, 1))
    assert (line["row"], line["method"], line["test_domain"]) == ("kd [views:2]", "kd", "sketch")
    assert (line["image_queries"], line["text_queries"]) == (100, 7)  # bought + cache hits
    assert line["list_cost"] == 100 * 10 + 7 * 1 and line["cost"] == 100
    assert line["config"] == config.public_dict()
    assert result_line(config, METRICS, None)["list_cost"] == 0  # asked the teacher nothing


def test_the_last_complete_line_wins_and_a_cut_line_is_none(tmp_path: Path) -> None:
    config = RunConfig()
    assert last_result(tmp_path / RESULTS_FILE) is None
    append_result(tmp_path, result_line(config, METRICS, (10, 1)))
    newer = result_line(config, {**METRICS, "ood_acc": 0.8}, (10, 1))
    append_result(tmp_path, newer)
    with (tmp_path / RESULTS_FILE).open("a") as file:
        file.write('{"schema": 1, "ood_acc": 0.')  # killed mid-write
    found = last_result(tmp_path / RESULTS_FILE)
    assert found is not None and found["ood_acc"] == 0.8


def test_identity_ignores_where_a_run_ran_not_what_it_computed(tmp_path: Path) -> None:
    base = RunConfig()
    moved = base.with_overrides({"teacher.vendor_url": "http://elsewhere:1", "train.threads": 4,
                                 "output.run_name": "other", "train.device": "cpu"})  # fmt: skip
    assert run_identity(moved.public_dict()) == run_identity(base.public_dict())
    changed = base.with_overrides({"train.lr": 1e-3})
    assert run_identity(changed.public_dict()) != run_identity(base.public_dict())


def test_finished_runs_are_found_recursively_once_per_identity(tmp_path: Path) -> None:
    config = RunConfig()
    for name in ("a/x", "b/y/z"):
        (tmp_path / name).mkdir(parents=True)
        append_result(tmp_path / name, result_line(config, METRICS, (10, 1)))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / RESULTS_FILE).write_text("")  # started, never finished
    found = finished_runs([tmp_path])
    assert len(found) == 1
    (line,) = found.values()
    assert line["run_dir"] == str(tmp_path / "a" / "x")  # the first path wins
    assert json.loads(json.dumps(line))["row"] == "vl2v-adip"
