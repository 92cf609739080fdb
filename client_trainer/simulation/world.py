"""The client's side of the offline world: its task data set and its pretrained student.

Both are artefacts cached under a hash of their config, so a second demo reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.world.config import TaskConfig
from shared.world.domainbed import build_task


@dataclass(frozen=True)
class ClientWorld:
    data_root: Path  # holds <dataset>/<domain>/<class>/<n>.png
    dataset: str
    domains: tuple[str, ...]
    student_weights: Path  # backbone weights of the pretrained student


def prepare_client_world(artifacts: Path, student: str) -> ClientWorld:
    from client_trainer.pretrain import PretrainConfig, pretrain_student

    task = TaskConfig()
    data_root = build_task(task, artifacts)
    weights = pretrain_student(PretrainConfig(model_name=student), artifacts)
    return ClientWorld(data_root, task.dataset, tuple(task.domains), weights)
