"""Which teacher targets a run's training images get, parsed once when the config is loaded.

    clean      one embedding per image file (its exact bytes)
    views:K    K augmented views per image, bought once and cached, drawn from during training
    per-step   each step's augmented batch, bought as it is drawn

Configs, flags and `metrics.json` spell a policy as those strings; in the code it is a
`TargetPolicy`, so no caller parses the string again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

TargetKind = Literal["clean", "views", "per-step"]
SPELLING = "clean, views:K (K >= 1) or per-step"


@dataclass(frozen=True)
class TargetPolicy:
    kind: TargetKind = "clean"
    views: int = 0  # K of views:K, at least 1; 0 for clean and per-step (no cached views)

    def __post_init__(self) -> None:
        if (self.kind == "views") != (self.views >= 1) or self.views < 0:
            raise ValueError(f"targets must be {SPELLING}, not {self.kind} with {self.views} views")

    @classmethod
    def parse(cls, spec: str) -> TargetPolicy:
        """'clean', 'views:4' or 'per-step' -> the policy; anything else is a ValueError."""
        if spec == "clean":
            return cls("clean")
        if spec == "per-step":
            return cls("per-step")
        kind, _, count = spec.partition(":")
        if kind == "views" and count.isdigit() and int(count) >= 1:
            return cls("views", int(count))
        raise ValueError(f"targets must be {SPELLING}, not {spec!r}")

    def __str__(self) -> str:
        return f"views:{self.views}" if self.kind == "views" else self.kind

    @classmethod
    def _validate(cls, value: Any) -> TargetPolicy:
        if isinstance(value, TargetPolicy):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        raise ValueError(f"targets must be a string ({SPELLING}), not {value!r}")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validated from its string (or a policy), serialised back to the same string."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )
