"""A small Dockerfile reader for static checks: instructions with continuations joined."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case, e.g. "RUN"
    arguments: str  # the rest of the logical line, continuations joined

    def exec_form(self) -> list[str]:
        """JSON (exec) form arguments, e.g. of CMD; after any --flags for HEALTHCHECK."""
        text = self.arguments[self.arguments.index("[") :]
        return [str(item) for item in json.loads(text)]


def parse(path: Path) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def words(instruction: Instruction) -> list[str]:
    return shlex.split(instruction.arguments, comments=False)
