"""regime: the line that says whether a table runs the short CPU recipe or the paper's."""

from __future__ import annotations

from pathlib import Path

from client_trainer.config import TrainConfig
from client_trainer.simulation.profiles import client_profile
from client_trainer.simulation.recipe import base_config
from client_trainer.simulation.regime import regime


def _train(profile: str) -> TrainConfig:
    recipe = client_profile(profile).recipe
    student = ("world_convnet_s", Path("s.pt"))
    return base_config(recipe, Path("d"), "world", student, Path("o")).train


def test_the_demo_recipe_says_it_is_short_and_names_the_paper_profile() -> None:
    line = regime(_train("full"))
    assert line.startswith(
        "recipe: 150 steps a stage (ADiP's align stage 1500 at 0.001), backbone at 5e-05,"
        " heads at 0.001,"
    )
    assert "BatchNorm training, no SWAD" in line
    assert line.endswith("a short run; the paper's is 5,001 steps (--profile paper)")


def test_the_paper_profile_says_it_is_the_papers_length_with_its_switches() -> None:
    line = regime(_train("paper"))
    assert "5001 steps a stage, backbone" in line and "BatchNorm frozen, SWAD valley" in line
    assert line.endswith("the paper's length")
