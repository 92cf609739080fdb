"""The worker pool: results in order, each worker in its own environment (its GPU), and a
failing or dying worker stops the whole pool at once."""

from __future__ import annotations

import pytest

from client_trainer.simulation.devices import worker_environments
from client_trainer.simulation.workers import WorkerDied, run_in_workers
from tests.client_trainer.simulation import workers_tasks


@pytest.mark.timeout(120)
def test_each_worker_keeps_its_own_gpu_for_every_job_it_runs() -> None:
    envs = worker_environments(2, 2, None)  # a machine with 2 GPUs, faked
    done: list[int] = []
    found = run_in_workers(workers_tasks.where, [0.3] * 6, envs, lambda i, _: done.append(i))
    assert sorted(done) == list(range(6)) and len(found) == 6
    device_of: dict[int, set[str | None]] = {}
    for pid, device, at_import in found:
        assert at_import == device  # set before the worker's interpreter started
        device_of.setdefault(pid, set()).add(device)
    assert all(len(devices) == 1 for devices in device_of.values())  # pinned for good
    assert {d for devices in device_of.values() for d in devices} <= {"0", "1"}
    if len(device_of) == 2:  # both workers took jobs: each had its own GPU
        assert {next(iter(d)) for d in device_of.values()} == {"0", "1"}


@pytest.mark.timeout(120)
def test_a_failing_job_raises_its_own_error_here() -> None:
    with pytest.raises(ValueError, match="bad input"):
        run_in_workers(workers_tasks.fail, ["bad input"], [{}, {}])


@pytest.mark.timeout(120)
def test_a_worker_that_dies_stops_the_pool() -> None:
    with pytest.raises(WorkerDied, match="exit code 3"):
        run_in_workers(workers_tasks.die, [3], [{}])
