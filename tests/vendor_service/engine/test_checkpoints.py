"""Reading each weights format, and refusing a file that does not fit, with the keys named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.support.checkpoint_files import (
    TINY_VIT,
    TINY_VIT_QUICKGELU,
    openai_archive,
    random_model,
    safetensors_file,
    state_dict_file,
)
from vendor_service.engine.checkpoints import (
    WeightsError,
    check_file,
    file_format,
    load_weights,
    read_state_dict,
)


@pytest.fixture(scope="module")
def source() -> Any:
    return random_model(TINY_VIT_QUICKGELU)


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        torch.testing.assert_close(a[key].float(), b[key].float(), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("write", "name", "fmt"),
    [
        (state_dict_file, "model.pt", "state-dict"),
        (state_dict_file, "open_clip_pytorch_model.bin", "state-dict"),
        (safetensors_file, "model.safetensors", "safetensors"),
    ],
)
def test_each_format_reads_back_its_state_dict(
    source: Any, tmp_path: Path, write: Any, name: str, fmt: str
) -> None:
    path = write(source, tmp_path / name)
    assert file_format(path) == fmt
    _same_weights(read_state_dict(path, file_format(path)), source.state_dict())


def test_openai_archive_is_read_through_torchscript_without_its_extras(
    source: Any, tmp_path: Path
) -> None:
    path = openai_archive(source, tmp_path / "ViT-B-16.pt")
    with pytest.raises(RuntimeError, match="weights_only"), pytest.warns(UserWarning):
        torch.load(path, weights_only=True)  # why the archive needs a path of its own
    assert file_format(path) == "torchscript"
    state = read_state_dict(path, "torchscript")
    assert "input_resolution" not in state and state["text_projection"].dtype == torch.float16
    expected = {key: value.half() for key, value in source.state_dict().items()}
    _same_weights(state, expected)


def test_a_checkpoint_dict_saved_from_data_parallel_is_unwrapped(
    source: Any, tmp_path: Path
) -> None:
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}
    torch.save(wrapped, tmp_path / "epoch_3.pt")
    _same_weights(read_state_dict(tmp_path / "epoch_3.pt", "state-dict"), source.state_dict())


def test_a_pickle_that_is_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    torch.save({"weights": object()}, tmp_path / "odd.pt")
    with pytest.raises(WeightsError, match=r"odd\.pt"):
        read_state_dict(tmp_path / "odd.pt", "state-dict")


def test_a_file_of_another_architecture_is_refused_with_the_keys_named(
    source: Any, tmp_path: Path
) -> None:
    """The tiny ViT's weights into the tiny ResNet CLIP: missing, unexpected, wrong shapes."""
    path = state_dict_file(source, tmp_path / "vit.pt")
    target = random_model("tiny-clip-test")
    with pytest.raises(WeightsError) as refused:
        load_weights(target, path, "state-dict", "tiny-clip-test")
    message = str(refused.value)
    assert "vit.pt do not fit VENDOR_MODEL=tiny-clip-test" in message
    assert "missing keys: visual.bn1.weight, visual.bn1.bias," in message
    assert "unexpected keys: visual.class_embedding, visual.positional_embedding," in message
    assert "shape mismatch: positional_embedding (16, 64) (model: (16, 32))," in message
    assert "and 114 more" in message  # a long list is cut, with the count of the rest


def test_a_wrong_shape_is_refused_before_loading_and_on_the_meta_device(
    source: Any, tmp_path: Path
) -> None:
    state = source.state_dict()
    state["text_projection"] = torch.zeros(64, 48)
    del state["ln_final.bias"]
    torch.save(state, tmp_path / "bad.pt")
    for check in (
        lambda: check_file(TINY_VIT, tmp_path / "bad.pt", "state-dict"),
        lambda: load_weights(random_model(TINY_VIT), tmp_path / "bad.pt", "state-dict", TINY_VIT),
    ):
        with pytest.raises(WeightsError, match=r"missing keys: ln_final\.bias; shape mismatch: "
                           r"text_projection \(64, 48\) \(model: \(64, 32\)\)"):  # fmt: skip
            check()


def test_a_fitting_file_loads_exactly(source: Any, tmp_path: Path) -> None:
    path = safetensors_file(source, tmp_path / "w.safetensors")
    check_file(TINY_VIT, path, "safetensors")  # the architecture fits: GELU or not is elsewhere
    target = random_model(TINY_VIT, seed=99)
    load_weights(target, path, "safetensors", TINY_VIT)
    _same_weights(target.state_dict(), source.state_dict())
