"""Named, swappable parts of a run (methods, selection strategies, students) and the one error
an unknown name raises.

A part registers itself with a decorator where it is defined (as timm's `@register_model`
does); importing its package fills the registry. The run config checks every name against its
registry when it loads, so a typo fails before any data is read or anything is bought.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

T = TypeVar("T")


class UnknownName(KeyError):
    """A name that no entry of a registry has; the message lists the names it does have.

    A KeyError (so `name in registry` and `registry.get` behave as for any mapping) whose text
    is the plain message, not KeyError's quoted repr."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        self.kind, self.name, self.known = kind, name, tuple(sorted(known))
        self.message = f"unknown {kind} {name!r}; known: {', '.join(self.known)}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class Registry(Mapping[str, T]):
    """Entries by name, in registration order; `registry[name]` raises UnknownName."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # what an entry is, for messages: "method", "selection strategy"
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@registry.register("name")` adds the decorated object unchanged."""

        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(self.kind, name, self._entries) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, name: str) -> str:
        """`name` itself when registered, else UnknownName (for config validators)."""
        self[name]
        return name
