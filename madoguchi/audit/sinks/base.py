"""Where audit checkpoints are kept, outside the database: the plug point's interface.

A sink only stores and returns lines; signing, parsing and judging them is
`audit.checkpoints`' work, so a new sink (an object store, a syslog host) adds storage
without touching what a checkpoint means.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass


class SinkError(RuntimeError):
    """The sink cannot be written or read (permissions, full disk, misconfiguration)."""


@dataclass(frozen=True)
class StoredLine:
    where: str  # a place a person can find, e.g. "checkpoints-2026-12.jsonl:17"
    data: bytes  # the line without its newline
    complete: bool = True  # False: the last line of a file has no newline (a torn write)


class CheckpointSink(ABC):
    name: str = ""

    @abstractmethod
    def append(self, lines: list[bytes]) -> None:
        """Appends the lines (each without a newline) durably, or raises SinkError. Never
        rewrites or removes what is already there."""

    @abstractmethod
    def read(self) -> Iterator[StoredLine]:
        """Every stored line, oldest first."""

    @abstractmethod
    def describe(self) -> str:
        """Where the sink writes, for the operator's messages."""
