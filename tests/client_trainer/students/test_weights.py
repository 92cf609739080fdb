"""Weight files load strictly through timm: a ViT saved at one image size loads into the same
ViT at another (pos_embed resampled), in both formats; a stray or a missing key is an error
that names it; the classifier a checkpoint carries is dropped by design."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import nn

from client_trainer.config import StudentConfig
from client_trainer.students import StudentError, create_student
from client_trainer.students.weights import SHOWN_KEYS, mismatch_message


def _vit(size: int, num_classes: int = 0) -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("test_vit", img_size=size, num_classes=num_classes).eval()


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def _load(path: Path, size: int, name: str = "test_vit") -> nn.Module:
    return create_student(StudentConfig(name=name, init="file", weights=path), size).eval()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_vit_saved_at_one_size_loads_at_another_with_pos_embed_resampled(
    tmp_path: Path, suffix: str
) -> None:
    source = _vit(32, num_classes=10)  # a fine-tuned checkpoint, classifier included
    path = _save(source.state_dict(), tmp_path / f"vit{suffix}")
    loaded = _load(path, 48)
    before, after = source.state_dict()["pos_embed"], loaded.state_dict()["pos_embed"]
    assert (before.shape[1], after.shape[1]) == (1 + 4, 1 + 9)  # 2x2 patches at 32 px, 3x3 at 48
    expected = timm.layers.resample_abs_pos_embed(before, [3, 3], num_prefix_tokens=1)
    assert torch.allclose(after, expected)
    assert not torch.allclose(after, _vit(48).state_dict()["pos_embed"])  # not random init
    for key, value in source.state_dict().items():
        if key != "pos_embed" and not key.startswith("head."):
            assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded(torch.rand(2, 3, 48, 48)).shape == (2, loaded.num_features)  # head dropped


def test_a_backbone_saved_without_a_classifier_gives_the_same_features(tmp_path: Path) -> None:
    source = _vit(32)
    path = _save(source.state_dict(), tmp_path / "backbone.safetensors")
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(_load(path, 32)(x), source(x))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_a_stray_or_a_missing_key_is_an_error_naming_it(tmp_path: Path, suffix: str) -> None:
    state = _vit(32).state_dict()
    stray = _save({**state, "blocks.0.extra": torch.zeros(2)}, tmp_path / f"stray{suffix}")
    with pytest.raises(StudentError, match=r"1 unexpected key\(s\): blocks\.0\.extra"):
        _load(stray, 32)
    del state["blocks.0.norm1.weight"]
    missing = _save(state, tmp_path / f"missing{suffix}")
    with pytest.raises(StudentError, match=r"1 missing key\(s\): blocks\.0\.norm1\.weight"):
        _load(missing, 48)


def test_a_world_student_without_a_timm_config_loads_strictly_too(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source: Any = timm.create_model("world_convnet_xs", num_classes=5).eval()
    path = _save(source.state_dict(), tmp_path / "world.pth")  # classifier included
    loaded = _load(path, 32, "world_convnet_xs")
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(loaded(x), source.forward_head(source.forward_features(x), True))
    state = source.state_dict()
    del state["stem.0.weight"]
    with pytest.raises(StudentError, match=r"missing key\(s\): stem\.0\.weight"):
        _load(_save(state, tmp_path / "short.pth"), 32, "world_convnet_xs")


def test_long_key_lists_are_cut_and_counted() -> None:
    keys = ", ".join(f'"k{i}"' for i in range(SHOWN_KEYS + 3))
    error = RuntimeError(
        f"Error(s) in loading state_dict for X:\n\tMissing key(s) in state_dict: {keys}. "
    )
    said = mismatch_message(error)
    assert said.startswith(f"{SHOWN_KEYS + 3} missing key(s): k0, k1") and "(+3 more)" in said


def test_shape_mismatches_are_kept_and_a_long_list_of_them_is_cut(tmp_path: Path) -> None:
    torch.manual_seed(0)
    wider = timm.create_model("test_vit", img_size=32, num_classes=0, embed_dim=96)
    path = _save(wider.state_dict(), tmp_path / "wider.pth")
    with pytest.raises(StudentError, match="size mismatch for cls_token") as caught:
        _load(path, 32)
    assert "more)" in str(caught.value) and "\n" not in str(caught.value)
