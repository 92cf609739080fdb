"""The run's per-step log: global steps over stages, a fresh file per run, TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client_trainer.report.curves import read_log, row_curves
from client_trainer.train import run_log
from client_trainer.train.run_log import LOG_FILE, RunLog, TensorBoardMissing


def _two_stages(directory: Path, tensorboard: bool = False) -> None:
    with RunLog(directory, tensorboard) as log:
        for name, steps in (("align", 4), ("distill", 2)):
            log.begin_stage(name)
            log.write([{"step": 0, "event": "start", "holdout_acc": 0.1 * steps}])
            log.write([{"step": s, "loss": float(s), "lr": 1e-3} for s in range(1, steps + 1)])
            log.write([{"step": steps, "event": "selected", "holdout_acc": 0.5 + steps}])
            log.end_stage(steps)


def test_steps_run_on_over_stages_and_the_reader_takes_the_last_value_of_a_step(
    tmp_path: Path,
) -> None:
    _two_stages(tmp_path)
    lines = [json.loads(t) for t in (tmp_path / LOG_FILE).read_text().splitlines()]
    assert [(x["step"], x["stage"], x["stage_step"]) for x in lines if "loss" in x] == [
        (1, "align", 1), (2, "align", 2), (3, "align", 3), (4, "align", 4),
        (5, "distill", 1), (6, "distill", 2),
    ]  # fmt: skip
    curves = row_curves([tmp_path], ["row"])[0]
    # step 4: align's selected weights (4.5), then distill's start on them (0.2): the last
    assert curves.mean("holdout_acc") == [(0, 0.4), (4, 0.2), (6, 2.5)]
    assert curves.mean("loss")[-1] == (6, 2.0)


def test_a_run_starts_its_log_afresh(tmp_path: Path) -> None:
    _two_stages(tmp_path)
    first = read_log(tmp_path / LOG_FILE)
    _two_stages(tmp_path)
    assert read_log(tmp_path / LOG_FILE) == first


def test_nan_is_written_as_null(tmp_path: Path) -> None:
    with RunLog(tmp_path) as log:
        log.begin_stage("train")
        log.write([{"step": 0, "holdout_acc": float("nan")}])
    assert json.loads((tmp_path / LOG_FILE).read_text())["holdout_acc"] is None


def test_tensorboard_events_are_written_beside_the_jsonl(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    _two_stages(tmp_path, tensorboard=True)
    events = list((tmp_path / run_log.TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert (tmp_path / LOG_FILE).is_file()


def test_without_tensorboard_the_option_fails_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(TensorBoardMissing, match="pip install tensorboard"):
        RunLog(tmp_path, tensorboard=True)
