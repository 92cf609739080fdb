"""Student backbones: any timm model name, random, timm-pretrained (on disk only) or a file.

The offline world's own students (`world_convnet_*`) are defined here and register with timm
when this package is imported.
"""

from client_trainer.students.registry import (
    TESTED_STUDENTS,
    StudentError,
    StudentSpec,
    create_student,
    load_weight_file,
)
from client_trainer.students.world_convnet import WorldConvNet  # importing registers them

__all__ = [
    "TESTED_STUDENTS",
    "StudentError",
    "StudentSpec",
    "WorldConvNet",
    "create_student",
    "load_weight_file",
]
