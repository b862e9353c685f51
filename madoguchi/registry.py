"""Plug points: a name for each implementation, and a clear refusal of an unknown name.

Every plug point (card transports, resident-record sources, document signers, …) is a
`base` interface, one `Registry` of it, and implementations registered under short names
that configuration and command lines use. Pure Python: the pure libraries use it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownName(LookupError):
    """A configured or given name that no implementation is registered under."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known) or '(none)'}")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    implementation: T
    description: str  # says what it is: a development stand-in says so


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind  # in messages: "unknown card transport 'x'; known: pcsc, virtual"
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str) -> Callable[[T], T]:
        """A decorator: `@TRANSPORTS.register("pcsc", "a card in a PC/SC reader")`."""

        def add(implementation: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, implementation, description)
            return implementation

        return add

    def get(self, name: str) -> T:
        return self.entry(name).implementation

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[name] for name in self.names()]

    def __contains__(self, name: str) -> bool:
        return name in self._entries
