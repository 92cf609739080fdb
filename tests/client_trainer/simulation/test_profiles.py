"""The client's and the vendor's world profiles must name the same sizes."""

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
