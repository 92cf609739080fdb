"""SWAD's loss-valley window on synthetic loss sequences, and the tail average."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from client_trainer.train.swad import LossValley, SwadSettings


def _valley(
    losses: list[float], settings: SwadSettings, every: int = 2, finish: bool = True
) -> tuple[LossValley, nn.Linear]:
    """A one-weight model whose weight is the step number; evaluations at 0, every, 2 every,
    ... with `losses`; the initial weights (step 0) are an iterate too."""
    layer = nn.Linear(1, 1, bias=False)
    valley = LossValley(layer, settings)
    for step in range(0, every * (len(losses) - 1) + 1):
        with torch.no_grad():
            layer.weight.fill_(float(step))
        valley.iterate(step)
        if step % every == 0:
            valley.evaluated(step, losses[step // every])
    if finish:
        valley.finish()
    return valley, layer


def _averaged(valley: LossValley) -> float:
    return float(valley.averaged_state()["weight"].item())


def _mean(first: int, last: int) -> float:
    return sum(range(first, last + 1)) / (last - first + 1)


SMALL = SwadSettings(mode="valley", n_converge=3, n_tolerance=2, tolerance_ratio=0.5)


def test_the_window_opens_where_the_loss_stops_falling_and_closes_when_it_stays_high() -> None:
    # evaluations at steps 0..14; the loss bottoms out at step 4 (1.0 <= 1.2, 1.1)
    losses = [5.0, 3.0, 1.0, 1.2, 1.1, 1.5, 3.0, 3.5]
    valley, _ = _valley(losses, SMALL)
    assert valley.threshold == pytest.approx(1.5 * (1.0 + 1.2 + 1.1) / 3)  # 1.65
    # segment of the evaluation at 4 = steps 3, 4; the one at 10 (1.5) is the last whose
    # next two evaluations are not both above 1.65; 12 and 14 (3.0, 3.5) close the window
    assert valley.window_steps == (3, 10)
    assert valley.closed
    assert valley.window.count == 8
    assert _averaged(valley) == pytest.approx(_mean(3, 10))


def test_an_excursion_shorter_than_n_tolerance_keeps_the_window_open() -> None:
    settings = SwadSettings(mode="valley", n_converge=3, n_tolerance=3, tolerance_ratio=0.5)
    losses = [3.0, 1.0, 1.1, 1.2, 2.0, 2.0, 1.0, 2.0, 2.0, 2.0]
    valley, _ = _valley(losses, settings, every=1)  # threshold 1.65
    # opens at step 1; steps 4, 5 are above but step 6 is back below; 7, 8, 9 close it
    assert valley.window_steps == (1, 6)
    assert _averaged(valley) == pytest.approx(_mean(1, 6))


def test_at_the_end_of_the_stage_the_last_segments_are_decided_on_what_was_evaluated() -> None:
    losses = [5.0, 3.0, 1.0, 1.2, 1.1, 2.0]
    open_end, _ = _valley(losses, SMALL)
    assert open_end.window_steps == (3, 8)  # the last evaluation (2.0) is above 1.65
    assert not _valley(losses, SMALL, finish=False)[0].closed
    assert _averaged(open_end) == pytest.approx(_mean(3, 8))
    low_end, _ = _valley([5.0, 3.0, 1.0, 1.2, 1.1, 1.5], SMALL)
    assert low_end.window_steps == (3, 10)


def test_a_loss_that_never_stops_falling_opens_no_window() -> None:
    valley, _ = _valley([5.0, 4.0, 3.0, 2.0, 1.0], SMALL)
    assert not valley.opened and valley.window_steps is None and valley.window.count == 0


def test_a_minimum_at_the_first_evaluation_averages_from_the_initial_weights() -> None:
    valley, _ = _valley([1.0, 1.2, 1.3, 1.1], SMALL)
    assert valley.window_steps == (0, 6)
    assert valley.window.count == 7
    assert _averaged(valley) == pytest.approx(3.0)


def test_defaults_are_the_papers() -> None:
    settings = SwadSettings()
    assert (settings.n_converge, settings.n_tolerance, settings.tolerance_ratio) == (3, 6, 0.3)
