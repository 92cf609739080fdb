"""SWAD-style weight averaging: the running mean of the weights over the later steps."""

from __future__ import annotations

import torch
from torch import nn


class WeightAverager:
    """Uniform average of every floating tensor of `model.state_dict()` since `start`."""

    def __init__(self, model: nn.Module, start_step: int) -> None:
        self._start = start_step
        self._count = 0
        self._mean: dict[str, torch.Tensor] = {}
        self._model = model

    def update(self, step: int) -> None:
        if step < self._start:
            return
        self._count += 1
        with torch.no_grad():
            for name, value in self._model.state_dict().items():
                if not value.is_floating_point():
                    continue
                if name not in self._mean:
                    self._mean[name] = value.detach().clone().float()
                else:
                    self._mean[name] += (value.float() - self._mean[name]) / self._count

    @property
    def count(self) -> int:
        return self._count

    def averaged_state(self) -> dict[str, torch.Tensor]:
        state = {k: v.detach().clone() for k, v in self._model.state_dict().items()}
        for name, mean in self._mean.items():
            state[name] = mean.to(state[name].dtype)
        return state
