"""What VENDOR_PRETRAINED names, and the start-up refusals of weights that do not fit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.checkpoint_files import (
    TINY_VIT,
    TINY_VIT_QUICKGELU,
    model_directory,
    openai_archive,
    random_model,
    state_dict_file,
)
from vendor_service.engine.checkpoints import WeightsError
from vendor_service.engine.teacher_weights import (
    check_teacher_weights,
    describe,
    resolve_weights,
    weights_id,
)


@pytest.fixture(scope="module")
def quickgelu_model() -> Any:
    return random_model(TINY_VIT_QUICKGELU)


def test_random_a_tag_and_a_missing_path() -> None:
    assert resolve_weights("random").kind == "random"
    assert resolve_weights("openai").tag == "openai"
    for missing in ("/nowhere/ViT-B-16.pt", "weights.safetensors", "./models/clip"):
        with pytest.raises(WeightsError, match="no such file or directory"):
            resolve_weights(missing)


def test_an_unknown_tag_names_the_architectures_tags() -> None:
    with pytest.raises(WeightsError, match=r"tags: .*laion2b_s34b_b88k"):
        check_teacher_weights("ViT-B-16", "laion-imaginary")
    with pytest.raises(WeightsError, match="has no open_clip tags"):
        check_teacher_weights(TINY_VIT, "openai")


@pytest.mark.parametrize(
    ("model", "pretrained", "says"),
    [
        ("ViT-B-16", "openai", "set VENDOR_MODEL=ViT-B-16-quickgelu"),
        ("RN50", "openai", "set VENDOR_MODEL=RN50-quickgelu"),
        ("ViT-B-32-quickgelu", "laion2b_s34b_b79k", None),  # not a tag of the -quickgelu name
    ],
)
def test_a_quickgelu_tag_on_a_gelu_architecture_refuses_to_start(
    model: str, pretrained: str, says: str | None
) -> None:
    """Checked before anything is downloaded: the tag's config says QuickGELU."""
    with pytest.raises(WeightsError, match=says or "pretrained tag of VENDOR_MODEL"):
        check_teacher_weights(model, pretrained)


def test_openai_tag_on_the_quickgelu_architecture_passes_the_check() -> None:
    assert check_teacher_weights("ViT-B-16-quickgelu", "openai").tag == "openai"


def test_openai_archive_needs_the_quickgelu_architecture(
    quickgelu_model: Any, tmp_path: Path
) -> None:
    path = openai_archive(quickgelu_model, tmp_path / "ViT-B-16.pt")
    with pytest.raises(WeightsError, match=f"set VENDOR_MODEL={TINY_VIT_QUICKGELU}$"):
        check_teacher_weights(TINY_VIT, str(path))
    source = check_teacher_weights(TINY_VIT_QUICKGELU, str(path))
    assert (source.kind, source.format) == ("file", "torchscript")


def test_a_directory_is_checked_against_the_architecture(
    quickgelu_model: Any, tmp_path: Path
) -> None:
    directory = model_directory(quickgelu_model, TINY_VIT_QUICKGELU, tmp_path / "hf")
    source = check_teacher_weights(TINY_VIT_QUICKGELU, str(directory))
    assert (source.kind, source.path.name) == ("directory", "open_clip_model.safetensors")  # type: ignore[union-attr]
    with pytest.raises(WeightsError, match=f"set VENDOR_MODEL={TINY_VIT_QUICKGELU}"):
        check_teacher_weights(TINY_VIT, str(directory))
    config = json.loads((directory / "open_clip_config.json").read_text())
    config["model_cfg"]["text_cfg"]["heads"] = 4  # no parameter shows it: only the config does
    (directory / "open_clip_config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=r"text_cfg\.heads is 4 there, 1 in the architecture"):
        check_teacher_weights(TINY_VIT_QUICKGELU, str(directory))


def test_a_directory_without_config_or_weights_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"has no open_clip_config\.json"):
        resolve_weights(str(tmp_path))
    (tmp_path / "open_clip_config.json").write_text("{}")
    with pytest.raises(WeightsError, match=r"has none of open_clip_model\.safetensors"):
        resolve_weights(str(tmp_path))


def test_describe_names_the_file_and_its_sha256_never_its_path(
    quickgelu_model: Any, tmp_path: Path
) -> None:
    path = state_dict_file(quickgelu_model, tmp_path / "teacher.pt")
    card = describe(resolve_weights(str(path)), seed=0)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (card.source, card.name, card.sha256, card.format) == (
        "file", "teacher.pt", digest, "state-dict",
    )  # fmt: skip
    assert str(tmp_path) not in card.model_dump_json() and weights_id(card) == digest[:8]
    assert weights_id(describe(resolve_weights("random"), seed=3)) == "random3"
    tag = describe(resolve_weights("openai"), seed=0)
    assert (tag.source, tag.name, tag.sha256, weights_id(tag)) == ("tag", "openai", None, "openai")
