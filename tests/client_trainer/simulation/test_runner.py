"""Client runs side by side in worker processes give what one after another gives; finished
runs are not run again; one worker per GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_trainer.config import RunConfig
from client_trainer.report.results import RESULTS_FILE
from client_trainer.simulation.runner import (
    MAX_AUTO_WORKERS,
    RunSpec,
    auto_workers,
    run_specs,
    usable_cpus,
)


def _specs() -> list[RunSpec]:
    points = ((0, "gamma"), (1, "alpha"), (0, "beta"))
    return [RunSpec(f"erm seed {seed} -> {domain}", _erm(seed, domain)) for seed, domain in points]


def _erm(seed: int, domain: str) -> dict[str, object]:
    return {
        "train.method": "erm",
        "train.seed": seed,
        "data.test_domain": domain,
        "output.run_name": f"erm-{domain}-{seed}",
    }


def _scores(metrics: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(m["test_domain"], m["seed"], m["id_acc"], m["ood_acc"]) for m in metrics]


@pytest.mark.timeout(300)
def test_workers_give_the_same_results_in_the_same_order(quick: RunConfig, tmp_path: Path) -> None:
    lines: list[str] = []
    cpu = quick.with_overrides({"train.device": "cpu"})
    one = run_specs(cpu.with_overrides({"output.out_dir": tmp_path / "one"}), _specs(), print)
    # Two workers as on a machine with 2 GPUs (faked; the runs train on the CPU here).
    two = run_specs(
        cpu.with_overrides({"output.out_dir": tmp_path / "two"}), _specs(), lines.append, 2, 2
    )
    assert _scores(two) == _scores(one)
    assert [m["test_domain"] for m in two] == ["gamma", "alpha", "beta"]
    assert lines[0] == "3 runs on 2 worker processes on 2 GPUs"
    assert {m["cuda_visible_devices"] for m in one} == {None}
    assert {m["cuda_visible_devices"] for m in two} <= {"0", "1"}  # each worker its own GPU
    assert sorted(line.split(":")[0] for line in lines[1:]) == sorted(s.label for s in _specs())


@pytest.mark.timeout(300)
def test_a_failing_run_in_a_worker_raises_here(quick: RunConfig) -> None:
    bad = [*_specs()[:1], RunSpec("bad", {"data.test_domain": "no-such-domain"})]
    with pytest.raises(ValueError, match="no-such-domain"):
        run_specs(quick, bad, print, 2)


def test_auto_workers_is_one_per_training_thread_on_the_cpu(
    quick: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpu = quick.with_overrides({"train.device": "cpu"})
    assert auto_workers(cpu.with_overrides({"train.threads": 1})) == min(
        usable_cpus(), MAX_AUTO_WORKERS
    )
    assert auto_workers(cpu.with_overrides({"train.threads": usable_cpus()})) == 1
    all_cores = cpu.model_copy(update={"train": cpu.train.model_copy(update={"threads": None})})
    assert auto_workers(all_cores) == 1
    assert auto_workers(quick.with_overrides({"train.device": "cuda"})) == 1
    assert auto_workers(cpu, gpus=4) == 4  # one per GPU, whatever the cores
    monkeypatch.setattr("client_trainer.simulation.runner.usable_cpus", lambda: 64)
    assert auto_workers(cpu) == MAX_AUTO_WORKERS  # a many-core machine: memory stays bounded


def _table(config: RunConfig, announced: list[str]) -> list[dict[str, object]]:
    return run_specs(config, _specs(), announced.append)


@pytest.mark.timeout(300)
def test_finished_runs_are_read_back_and_a_half_written_one_is_redone(
    quick: RunConfig, tmp_path: Path
) -> None:
    config = quick.with_overrides({"output.out_dir": tmp_path / "runs"})
    first = _table(config, [])
    said: list[str] = []
    again = _table(config, said)
    assert _scores(again) == _scores(first)
    assert said == [f"3 of 3 runs finished earlier (results.jsonl under {tmp_path / 'runs'}):"
                    " not run again"]  # fmt: skip
    (tmp_path / "runs" / "erm-alpha-1" / RESULTS_FILE).unlink()  # killed before its line
    said.clear()
    redone = _table(config, said)
    assert _scores(redone) == _scores(first)
    assert said[0].startswith("2 of 3 runs finished earlier") and said[1:] == [_specs()[1].label]
    for spec in _specs():
        lines = tmp_path / "runs" / spec.overrides["output.run_name"] / RESULTS_FILE
        assert len(lines.read_text().splitlines()) == 1


@pytest.mark.timeout(300)
def test_a_changed_setting_is_a_new_run_and_a_repeated_one_runs_once(
    quick: RunConfig, tmp_path: Path
) -> None:
    config = quick.with_overrides({"output.out_dir": tmp_path / "runs"})
    spec = _specs()[0]
    twin = RunSpec("twin", {**spec.overrides, "output.run_name": "twin"})
    said: list[str] = []
    lines = run_specs(config, [spec, twin], said.append)
    assert said == [spec.label] and lines[0] == lines[1]  # same run under two names: once
    said.clear()
    run_specs(config.with_overrides({"train.steps": 2}), [spec], said.append)
    assert said == [spec.label]  # another recipe: not the finished run
