"""Every world student registered with timm builds as a feature extractor and a classifier."""

from __future__ import annotations

import pytest
import timm
import torch

from client_trainer.students import STUDENTS, WorldConvNet  # importing registers them

WORLD_STUDENTS = sorted(STUDENTS)


def test_students_are_registered() -> None:
    assert {"world_convnet_s", "world_convnet_xs"} <= set(WORLD_STUDENTS)
    assert timm.list_models("world_convnet_*") == WORLD_STUDENTS  # timm knows each of them


@pytest.mark.parametrize("name", WORLD_STUDENTS)
def test_feature_extractor_and_classifier(name: str) -> None:
    features = timm.create_model(name, num_classes=0).eval()
    assert isinstance(features, WorldConvNet)
    out = features(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, features.num_features)
    classifier = timm.create_model(name, num_classes=7).eval()
    assert classifier(torch.zeros(2, 3, 64, 64)).shape == (2, 7)
    assert features.pretrained_cfg["mean"] == (0.485, 0.456, 0.406)


@pytest.mark.parametrize("name", WORLD_STUDENTS)
def test_no_downloadable_weights(name: str) -> None:
    with pytest.raises(ValueError, match="pretrain_student"):
        timm.create_model(name, pretrained=True)
