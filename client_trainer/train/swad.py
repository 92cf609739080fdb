"""Weight averaging of a stage's iterates: SWAD's loss-valley window, or a tail average.

- `WeightAverager` (mode `tail`): the uniform mean of the weights of every step from a fixed
  step on.
- `LossValley` (mode `valley`, Cha et al. 2021, "SWAD: Domain Generalization by Seeking Flat
  Minima"): the iterates are grouped into segments, one per evaluation of the source-holdout
  loss (a segment is every step after the previous evaluation up to this one; the evaluation
  at step 0 makes a segment of the initial weights). The window opens at the first evaluation
  whose loss is the lowest of it and the next `n_converge - 1` (the loss has stopped falling);
  the threshold is then (1 + `tolerance_ratio`) x the mean loss of those `n_converge`
  evaluations. From there a segment is averaged while at least one of the `n_tolerance`
  evaluations from its own on (as many as there are at the end of the stage) is at or below
  the threshold; the first segment that fails closes the window: the loss has stayed above
  the threshold for `n_tolerance` evaluations in a row. The result is the mean of every
  iterate in the window. Unlike the official code, the window does not reach back before the
  evaluation that opened it, and each iterate weighs the same (segments weigh by length).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch
from torch import nn

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SwadSettings:
    mode: str = "tail"  # valley | tail
    start: float = 0.5  # tail: share of the steps before averaging
    n_converge: int = 3
    n_tolerance: int = 6
    tolerance_ratio: float = 0.3


class RunningMean:
    """The running mean of the floating tensors of states, and how many went in."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: State = {}

    def add(self, state: State, weight: int = 1) -> None:
        """Add `state` as `weight` iterates (a segment's mean counts as its length)."""
        if weight <= 0:
            return
        self.count += weight
        share = weight / self.count
        with torch.no_grad():
            for name, value in state.items():
                if not value.is_floating_point():
                    continue
                if name not in self.mean:
                    self.mean[name] = value.detach().clone().float()
                else:
                    self.mean[name] += (value.float() - self.mean[name]) * share

    def applied_to(self, state: State) -> State:
        """`state` with its floating tensors replaced by the mean (others kept)."""
        out = {k: v.detach().clone() for k, v in state.items()}
        for name, mean in self.mean.items():
            out[name] = mean.to(out[name].dtype)
        return out


class WeightAverager:
    """Uniform average of every floating tensor of `model.state_dict()` since `start`."""

    def __init__(self, model: nn.Module, start_step: int) -> None:
        self._start = start_step
        self._model = model
        self._mean = RunningMean()

    def update(self, step: int) -> None:
        if step >= self._start:
            self._mean.add(self._model.state_dict())

    @property
    def count(self) -> int:
        return self._mean.count

    def averaged_state(self) -> State:
        return self._mean.applied_to(self._model.state_dict())


@dataclass
class _Segment:
    mean: RunningMean
    first: int  # first step in it
    last: int  # the evaluation's step
    loss: float


class LossValley:
    """SWAD's loss-valley window over a stage (see the module's docstring). Call `iterate`
    after every optimiser step (and once for the initial weights), `evaluated` after every
    holdout evaluation, `finish` at the end of the stage."""

    def __init__(self, model: nn.Module, settings: SwadSettings) -> None:
        self._model, self._s = model, settings
        self._current = RunningMean()
        self._first: int | None = None  # first step of the current segment
        self._recent: deque[_Segment] = deque(maxlen=settings.n_converge)  # before the window
        self._pending: deque[_Segment] = deque()  # in the window's reach, not yet decided
        self.threshold: float | None = None
        self.window = RunningMean()
        self.window_steps: tuple[int, int] | None = None  # first and last averaged step
        self.closed = False  # the loss left the valley: nothing more is averaged

    @property
    def opened(self) -> bool:
        return self.threshold is not None

    def iterate(self, step: int) -> None:
        if self.closed:
            return
        if self._first is None:
            self._first = step
        self._current.add(self._model.state_dict())

    def evaluated(self, step: int, loss: float) -> None:
        if self.closed or self._first is None:
            return
        segment = _Segment(self._current, self._first, step, loss)
        self._current, self._first = RunningMean(), None
        if not self.opened:
            self._recent.append(segment)
            self._try_open()
        else:
            self._pending.append(segment)
        self._decide(final=False)

    def finish(self) -> None:
        """The stage is over: decide the pending segments on the evaluations there are."""
        self._decide(final=True)

    def _try_open(self) -> None:
        recent = list(self._recent)
        if len(recent) < self._s.n_converge:
            return
        losses = [s.loss for s in recent]
        if any(loss != loss for loss in losses):  # NaN: no holdout, no valley
            return
        if min(range(len(losses)), key=losses.__getitem__) != 0:
            return
        self.threshold = (1 + self._s.tolerance_ratio) * sum(losses) / len(losses)
        self._pending = deque(recent)
        self._recent.clear()

    def _decide(self, final: bool) -> None:
        if not self.opened or self.threshold is None:
            return
        reach = self._s.n_tolerance
        while self._pending and (final or len(self._pending) >= reach):
            ahead = [s.loss for s in list(self._pending)[:reach]]
            if min(ahead) > self.threshold:
                self.closed = True
                self._pending.clear()
                return
            self._average(self._pending.popleft())

    def _average(self, segment: _Segment) -> None:
        self.window.add(segment.mean.mean, segment.mean.count)
        first = segment.first if self.window_steps is None else self.window_steps[0]
        self.window_steps = (first, segment.last)

    def averaged_state(self) -> State:
        return self.window.applied_to(self._model.state_dict())
