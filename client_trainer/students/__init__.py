"""Student backbones: any timm model name, random, timm-pretrained (on disk only) or a file."""

from client_trainer.students.registry import (
    TESTED_STUDENTS,
    StudentError,
    StudentSpec,
    create_student,
    load_weight_file,
)

__all__ = ["TESTED_STUDENTS", "StudentError", "StudentSpec", "create_student", "load_weight_file"]
