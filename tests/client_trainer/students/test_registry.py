"""Students: every tested entry builds and runs; weight files load; no download, ever."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from timm.models import register_model
from timm.models.resnet import BasicBlock, ResNet

from client_trainer.config import StudentConfig
from client_trainer.registry import UnknownName
from client_trainer.students.registry import (
    STUDENTS,
    TESTED_STUDENTS,
    StudentError,
    create_student,
)


@pytest.mark.parametrize("name", sorted({*TESTED_STUDENTS, *STUDENTS}))
@pytest.mark.parametrize("size", [32, 64])
def test_tested_students_give_pooled_features(name: str, size: int) -> None:
    model = create_student(StudentConfig(name=name), size)
    out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2, model.num_features)


def test_weights_from_a_local_file_are_loaded(tmp_path: Path) -> None:
    source = create_student(StudentConfig(name="test_resnet"), 32)
    path = tmp_path / "student.pt"
    torch.save({"state_dict": source.state_dict()}, path)
    loaded = create_student(StudentConfig(name="test_resnet", init="file", weights=path), 32)
    x = torch.rand(2, 3, 32, 32)
    source.eval(), loaded.eval()
    assert torch.equal(source(x), loaded(x))


def test_a_file_that_fits_nothing_is_refused_with_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"x": torch.zeros(3)}, path)
    with pytest.raises(
        StudentError, match=r"missing key\(s\): conv1\.0\.weight.*unexpected key\(s\): x"
    ):
        create_student(StudentConfig(name="test_resnet", init="file", weights=path), 32)
    with pytest.raises(StudentError, match="does not exist"):
        create_student(StudentConfig(name="test_resnet", init="file", weights=tmp_path / "n"), 32)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(StudentError, match="cannot read weight file"):
        create_student(
            StudentConfig(name="test_resnet", init="file", weights=tmp_path / "junk.pt"), 32
        )


def test_timm_pretrained_without_local_weights_fails_fast_with_advice() -> None:
    started = time.perf_counter()
    with pytest.raises(StudentError, match="not on this machine"):
        create_student(StudentConfig(name="resnet10t", init="timm"), 32)
    assert time.perf_counter() - started < 5  # no network attempt


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(UnknownName, match="unknown timm model"):
        create_student(StudentConfig(name="no_such_model_xyz"), 32)


@register_model
def client_test_registered_net(pretrained: bool = False, **kwargs: Any) -> ResNet:
    """A model registered with timm from outside, as the offline world does."""
    # timm annotates `block` as an instance of the block; it takes the class.
    return ResNet(BasicBlock, (1, 1, 1, 1), num_classes=int(kwargs.get("num_classes", 10)))  # type: ignore[arg-type]


def test_models_registered_with_timm_elsewhere_work() -> None:
    assert timm.is_model("client_test_registered_net")
    model = create_student(StudentConfig(name="client_test_registered_net"), 32)
    assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, model.num_features)


def test_a_module_named_in_the_config_is_imported_to_register_its_students(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_students.py").write_text(
        "from timm.models import register_model\n"
        "from timm.models.resnet import ResNet, BasicBlock\n"
        "@register_model\n"
        "def my_module_student(pretrained=False, **kwargs):\n"
        "    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=kwargs.get('num_classes', 0))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = StudentConfig(name="my_module_student", module="my_students")
    assert create_student(config, 32).num_features == 512
    with pytest.raises(StudentError, match="cannot import"):
        create_student(StudentConfig(name="x_student", module="no_such_module_abc"), 32)
