"""One worker per GPU, each pinned through CUDA_VISIBLE_DEVICES: tested with fake counts."""

from __future__ import annotations

from client_trainer.simulation.devices import visible_gpus, worker_environments


def test_one_worker_per_gpu_each_its_own() -> None:
    envs = worker_environments(8, 8, None)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == [str(i) for i in range(8)]


def test_without_gpus_workers_keep_the_environment() -> None:
    assert worker_environments(3, 0, "0,1") == [{}, {}, {}]


def test_more_workers_than_gpus_share_them_round_robin() -> None:
    envs = worker_environments(5, 2, None)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0", "1", "0"]


def test_the_parents_visible_devices_name_the_gpus_to_share() -> None:
    assert visible_gpus(2, "3, 5") == ["3", "5"]
    assert visible_gpus(2, "GPU-aaa,GPU-bbb,GPU-ccc") == ["GPU-aaa", "GPU-bbb"]
    envs = worker_environments(2, 2, "6,7")
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["6", "7"]
    assert visible_gpus(3, "") == ["0", "1", "2"]
