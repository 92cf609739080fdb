"""Checkpoints: the student's weights plus what `predict` needs without the vendor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from client_trainer.config import StudentConfig
from client_trainer.students.registry import create_student
from client_trainer.train.model import StudentModel, build_student_model


@dataclass(frozen=True)
class Checkpoint:
    model: StudentModel
    predictor: str  # classifier | text
    classes: list[str]
    text: torch.Tensor | None  # (C, D) fixed classifier of the `text` predictor
    logit_scale: float
    config: dict[str, Any]


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": ckpt.model.state_dict(),
            "student": ckpt.config["student"]["name"],
            "student_module": ckpt.config["student"].get("module"),
            "image_size": ckpt.config["data"]["image_size"],
            "head_out": ckpt.model.head.out_features,
            "predictor": ckpt.predictor,
            "classes": ckpt.classes,
            "text": ckpt.text,
            "logit_scale": ckpt.logit_scale,
            "config": ckpt.config,
        },
        path,
    )


def load_checkpoint(path: Path) -> Checkpoint:
    blob = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code
    student = StudentConfig(name=blob["student"], module=blob.get("student_module"))
    backbone = create_student(student, blob["image_size"])
    model = build_student_model(backbone, blob["head_out"])
    model.load_state_dict(blob["state_dict"])
    return Checkpoint(
        model, blob["predictor"], blob["classes"], blob["text"], blob["logit_scale"], blob["config"]
    )
