"""Client runs side by side in worker processes give what one after another gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_trainer.config import RunConfig
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
    one = run_specs(quick.with_overrides({"output.out_dir": tmp_path / "one"}), _specs(), print)
    two = run_specs(
        quick.with_overrides({"output.out_dir": tmp_path / "two"}), _specs(), lines.append, 2
    )
    assert _scores(two) == _scores(one)
    assert [m["test_domain"] for m in two] == ["gamma", "alpha", "beta"]
    assert lines[0] == "3 runs on 2 worker processes"
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
    monkeypatch.setattr("client_trainer.simulation.runner.usable_cpus", lambda: 64)
    assert auto_workers(cpu) == MAX_AUTO_WORKERS  # a many-core machine: memory stays bounded
