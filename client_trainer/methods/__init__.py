"""Methods over the one shared training loop, keyed by the names the CLI takes."""

from client_trainer.methods.base import (
    Method,
    MethodInputs,
    MethodOutcome,
    TeacherBundle,
    TeacherNeeds,
    text_logits,
)
from client_trainer.methods.erm import Erm
from client_trainer.methods.kd import Kd
from client_trainer.methods.lp_ft import LpFt
from client_trainer.methods.vl2v_adip import Vl2vAdip
from client_trainer.methods.zero_shot import ZeroShot

METHODS: dict[str, Method] = {m.name: m for m in (ZeroShot(), Erm(), LpFt(), Kd(), Vl2vAdip())}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name]


__all__ = [
    "METHODS",
    "Method",
    "MethodInputs",
    "MethodOutcome",
    "TeacherBundle",
    "TeacherNeeds",
    "get_method",
    "text_logits",
]
