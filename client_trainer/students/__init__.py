"""Student backbones: any timm model name, random, timm-pretrained (on disk only) or a file.

The offline world's own students (`world_convnet_*`) are defined here and register with timm
(`@register_student`, which also lists them in `STUDENTS`) when this package is imported.
"""

from client_trainer.students.registry import (
    STUDENTS,
    TESTED_STUDENTS,
    StudentError,
    StudentSpec,
    check_student,
    create_student,
    register_student,
)
from client_trainer.students.world_convnet import WorldConvNet  # importing registers them

__all__ = [
    "STUDENTS",
    "TESTED_STUDENTS",
    "StudentError",
    "StudentSpec",
    "WorldConvNet",
    "check_student",
    "create_student",
    "register_student",
]
