"""Global-batch BatchNorm computes what BatchNorm computes: outputs, gradients and running
statistics, for torch's and timm's layers, in a one-process gloo group (the 2-process case is
test_distributed's gradient test)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import torch
import torch.distributed as dist
from timm.layers import BatchNormAct2d
from torch import nn

from client_trainer.train.global_batchnorm import WithGlobalBatchStatistics


@pytest.fixture
def group() -> Iterator[None]:
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


LAYERS = {
    "BatchNorm2d": lambda: nn.BatchNorm2d(4),
    "BatchNorm1d": lambda: nn.BatchNorm1d(4),
    "cumulative": lambda: nn.BatchNorm2d(4, momentum=None),
    "timm BatchNormAct2d": lambda: BatchNormAct2d(4),
}


def _input(name: str) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    shape = (6, 4) if name == "BatchNorm1d" else (6, 4, 5, 5)
    return 3 + 2 * torch.randn(shape, generator=gen)


@pytest.mark.usefixtures("group")
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("training", [True, False])
def test_the_same_as_batchnorm(name: str, training: bool) -> None:
    plain = LAYERS[name]()
    with torch.no_grad():
        plain.weight.uniform_(0.5, 1.5)
        plain.bias.uniform_(-1, 1)
    synced = WithGlobalBatchStatistics(copy.deepcopy(plain))
    plain.train(training)
    synced.train(training)
    for _ in range(2):  # the second step sees the running statistics of the first
        x = _input(name)
        x_plain, x_synced = x.clone().requires_grad_(), x.clone().requires_grad_()
        (plain(x_plain) ** 3).sum().backward()
        (synced(x_synced) ** 3).sum().backward()
        torch.testing.assert_close(x_synced.grad, x_plain.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(synced(x), plain(x), rtol=1e-5, atol=1e-5)
    for (key, mine), theirs in zip(
        synced.module.state_dict().items(), plain.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6, msg=key)
    for mine, theirs in zip(synced.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-5)
