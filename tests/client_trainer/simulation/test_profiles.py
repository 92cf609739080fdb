"""The client's and the vendor's world profiles must name the same sizes."""

from pathlib import Path

from client_trainer.simulation.profiles import PROFILES as CLIENT_PROFILES
from client_trainer.simulation.profiles import client_profile
from vendor_service.vlm.profiles import PROFILES as VENDOR_PROFILES
from vendor_service.vlm.profiles import vlm_profile


def test_both_sides_know_the_same_profiles() -> None:
    assert CLIENT_PROFILES == VENDOR_PROFILES


def test_micro_is_smaller_than_full_everywhere() -> None:
    full, micro = client_profile("full"), client_profile("micro")
    assert micro.task.per_class < full.task.per_class
    assert micro.pretrain.steps < full.pretrain.steps
    assert micro.recipe.steps < full.recipe.steps
    assert vlm_profile("micro").steps < vlm_profile("full").steps
    assert vlm_profile("micro").corpus.n_images < vlm_profile("full").corpus.n_images


def test_micro_teacher_sees_the_images_its_architecture_expects() -> None:
    import json

    from vendor_service.engine.model_configs import CONFIG_DIR

    for name in ("full", "micro"):
        config = vlm_profile(name)
        arch = json.loads((CONFIG_DIR / f"{config.model_name}.json").read_text())
        assert config.corpus.image_size == arch["vision_cfg"]["image_size"]


def test_task_and_student_match_the_recipe_size() -> None:
    for name in ("full", "micro"):
        profile = client_profile(name)
        assert profile.task.image_size == profile.recipe.image_size
        assert profile.pretrain.corpus.image_size == profile.recipe.image_size


def test_paper_is_the_full_world_trained_by_the_papers_recipe() -> None:
    full, paper = client_profile("full"), client_profile("paper")
    assert (paper.task, paper.pretrain) == (full.task, full.pretrain)
    recipe = paper.recipe
    assert (recipe.steps, recipe.lr, recipe.head_lr, recipe.batch_per_domain) == (
        5001,
        5e-5,
        None,
        32,
    )
    assert (recipe.eval_every, recipe.swad, recipe.swad_mode, recipe.freeze_bn) == (
        200,
        True,
        "valley",
        True,
    )
    assert recipe.image_size == full.recipe.image_size
    assert vlm_profile("paper") == vlm_profile("full")  # the same teacher checkpoint


def test_the_recipe_reaches_the_run_config(tmp_path: Path) -> None:
    from client_trainer.simulation.recipe import base_config

    config = base_config(
        client_profile("paper").recipe, tmp_path, "world", ("test_resnet", tmp_path), tmp_path
    )
    train = config.train
    assert (train.steps, train.head_lr, train.swad_mode, train.freeze_bn) == (
        5001,
        None,
        "valley",
        True,
    )


def test_the_worlds_align_stage_runs_to_convergence_and_the_papers_runs_its_steps(
    tmp_path: Path,
) -> None:
    from client_trainer.simulation.recipe import base_config

    def train(profile: str) -> tuple[int | None, float | None]:
        recipe = client_profile(profile).recipe
        student = ("test_resnet", tmp_path)
        config = base_config(recipe, tmp_path, "world", student, tmp_path)
        return config.train.align_steps, config.train.align_lr

    assert train("full") == (1500, 1e-3)
    assert train("paper") == (None, None)  # 5,001 steps, like the distill stage
