"""The client's side of the offline world: its task data set and its pretrained student.

Both are artefacts cached under a hash of their config, so a second demo reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client_trainer.simulation.profiles import ClientProfile
from shared.world.domainbed import build_task


@dataclass(frozen=True)
class ClientWorld:
    data_root: Path  # holds <dataset>/<domain>/<class>/<n>.png
    dataset: str
    domains: tuple[str, ...]
    student: str  # timm name of the pretrained student
    student_weights: Path  # its backbone weights


def prepare_client_world(artifacts: Path, profile: ClientProfile) -> ClientWorld:
    from client_trainer.simulation.pretrain import pretrain_student

    data_root = build_task(profile.task, artifacts)
    weights = pretrain_student(profile.pretrain, artifacts)
    task = profile.task
    return ClientWorld(
        data_root, task.dataset, tuple(task.domains), profile.pretrain.model_name, weights
    )
