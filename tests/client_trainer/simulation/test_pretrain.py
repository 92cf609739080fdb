"""Pretraining a micro student writes backbone weights that timm's feature extractor loads."""

from __future__ import annotations

import json
from pathlib import Path

import timm
import torch

from client_trainer.simulation.pretrain import PretrainConfig, pretrain_student
from shared.world.config import student_corpus


def test_pretrained_weights_load_into_timm_feature_extractor(tmp_path: Path) -> None:
    config = PretrainConfig(
        corpus=student_corpus(image_size=16, n_images=96), model_name="world_convnet_xs",
        steps=4, batch_size=16, holdout=24,
    )  # fmt: skip
    path = pretrain_student(config, tmp_path)
    backbone = timm.create_model("world_convnet_xs", num_classes=0)
    fresh = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.load_state_dict(torch.load(path, weights_only=True), strict=True)
    assert not torch.equal(fresh["stem.0.weight"], backbone.state_dict()["stem.0.weight"])
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["kind"] == "student" and "photo" in manifest["holdout_accuracy"]
    assert pretrain_student(config, tmp_path) == path
