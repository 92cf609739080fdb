"""The methods a run can train, by the names the config and the CLI take."""

from __future__ import annotations

from typing import TypeVar

from client_trainer.methods.base import Method
from client_trainer.registry import Registry

METHODS: Registry[type[Method]] = Registry("method")
M = TypeVar("M", bound=Method)


def register_method(cls: type[M]) -> type[M]:
    """Class decorator: registers a method under its `name`."""
    METHODS.register(cls.name)(cls)
    return cls


def get_method(name: str) -> Method:
    """A fresh instance of the method registered as `name` (UnknownName otherwise)."""
    return METHODS[name]()
