"""Training precision: what `auto` resolves to, and that a bf16 stage trains fp32 weights."""

from __future__ import annotations

import pytest
import torch

from client_trainer.config import RunConfig
from client_trainer.pipeline import train_run
from client_trainer.train.precision import autocast, prepare_for_training, resolve_precision
from shared.cpu import native_bf16

CPU = torch.device("cpu")


def test_auto_is_bf16_only_where_the_cpu_computes_it() -> None:
    assert resolve_precision("auto", CPU) == ("bf16" if native_bf16() else "fp32")
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"


@pytest.mark.parametrize("wanted", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept(wanted: str) -> None:
    assert resolve_precision(wanted, CPU) == wanted


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", CPU)


def test_autocast_runs_the_forward_in_bf16_only_when_asked() -> None:
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    with autocast(CPU, "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast(CPU, "fp32"):
        assert layer(x).dtype == torch.float32


def test_bf16_on_the_cpu_puts_convolutions_in_channels_last() -> None:
    conv = torch.nn.Conv2d(3, 8, 3)
    prepare_for_training(conv, CPU, "fp32")
    assert conv.weight.is_contiguous()
    prepare_for_training(conv, CPU, "bf16")
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert conv.weight.dtype == torch.float32  # weights stay fp32 under autocast


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_run_records_the_precision_it_trained_in(quick: RunConfig, precision: str) -> None:
    config = quick.with_overrides(
        {"train.method": "erm", "train.precision": precision, "output.run_name": precision}
    )
    metrics = train_run(config).metrics
    assert metrics["precision"] == precision
    assert metrics["config"]["train"]["precision"] == precision
    assert 0.0 <= metrics["ood_acc"] <= 1.0
