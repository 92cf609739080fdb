"""One worker per GPU, with the GPU count injected (no GPU here): how many workers `serve`
starts and which device each one's model runs on."""

from __future__ import annotations

from typing import Any

import pytest

from vendor_service.engine.devices import (
    worker_count,
    worker_device,
    worker_environments,
)
from vendor_service.settings import Settings, SettingsError


def settings(**values: Any) -> Settings:
    return Settings(admin_token="devices-admin-token-0123456789", **values)


@pytest.mark.parametrize(("gpus", "workers"), [(0, 1), (1, 1), (2, 2), (8, 8)])
def test_auto_is_one_worker_per_gpu(gpus: int, workers: int) -> None:
    assert worker_count(settings(), gpus) == workers
    assert worker_count(settings(device="cuda"), gpus) == workers


def test_worker_i_serves_on_gpu_i() -> None:
    environments = worker_environments(settings(), gpus=4)
    assert environments == [
        {"VENDOR_DEVICE": f"cuda:{i}", "VENDOR_WORKER_INDEX": str(i)} for i in range(4)
    ]


def test_more_workers_than_gpus_take_them_in_turn() -> None:
    chosen = settings(workers=5)
    assert [worker_device(chosen, i, 2) for i in range(5)] == [
        "cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"
    ]  # fmt: skip


def test_without_a_gpu_or_on_cpu_every_worker_stays_on_the_cpu() -> None:
    assert worker_environments(settings(workers=3), gpus=0) == [
        {"VENDOR_DEVICE": "cpu", "VENDOR_WORKER_INDEX": str(i)} for i in range(3)
    ]
    assert worker_count(settings(device="cpu"), gpus=4) == 1
    assert {worker_device(settings(device="cpu", workers=2), i, 4) for i in range(2)} == {"cpu"}


def test_an_explicit_gpu_keeps_every_worker_on_it() -> None:
    pinned = settings(device="cuda:3", workers=2)
    assert worker_count(settings(device="cuda:3"), gpus=4) == 1
    assert {worker_device(pinned, i, 4) for i in range(2)} == {"cuda:3"}


@pytest.mark.parametrize("bad", [{"device": "gpu"}, {"device": "cuda:x"}, {"workers": 0},
                                 {"workers": "many"}])  # fmt: skip
def test_unreadable_device_or_worker_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, SettingsError)):
        settings(**bad)
