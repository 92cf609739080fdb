"""Methods over the one shared training loop, registered under the names the CLI takes.

Each method module registers its class with `@register_method`; importing this package
imports them all, so `METHODS` holds every method.
"""

from client_trainer.methods import adip_align, erm, kd, lp_ft, vl2v_adip, zero_shot
from client_trainer.methods.base import (
    Method,
    MethodInputs,
    MethodOutcome,
    TeacherBundle,
    TeacherNeeds,
    text_logits,
)
from client_trainer.methods.registry import METHODS, get_method, register_method

__all__ = [
    "METHODS",
    "Method",
    "MethodInputs",
    "MethodOutcome",
    "TeacherBundle",
    "TeacherNeeds",
    "adip_align",
    "erm",
    "get_method",
    "kd",
    "lp_ft",
    "register_method",
    "text_logits",
    "vl2v_adip",
    "zero_shot",
]
