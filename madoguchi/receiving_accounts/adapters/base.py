"""The receiving-account source plug point: `ExtractSource` (what a source gives the
import), `SOURCES` (the registry of factories by name) and the errors a source raises.

The national registry (公金受取口座登録システム, Digital Agency) answers a municipality's
query with the accounts its residents registered through マイナポータル, their bank or a
tax return; the exact delivery format is not public (docs/receiving_accounts.md). A source
maps whatever arrives to rows keyed by the municipality's 宛名番号 — never the individual
number, which madoguchi does not keep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from madoguchi.registry import Registry


@dataclass(frozen=True)
class ExtractRow:
    line: int
    resident_number: str
    bank_code: str
    branch_code: str
    account_type: str
    account_number: str
    holder_kana: str


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class ExtractSource(Protocol):
    def rows(self) -> Iterator[ExtractRow | RowError]: ...


class SourceUnreadable(ValueError):
    """The delivery as a whole cannot be read (encoding, header): nothing is imported."""


# A factory: (location, encoding) -> an ExtractSource; raises OSError or SourceUnreadable.
SourceFactory = Callable[[str, str], ExtractSource]
SOURCES: Registry[SourceFactory] = Registry("receiving-account source")


def open_source(name: str, location: str, encoding: str = "utf-8-sig") -> ExtractSource:
    from . import csv_file  # noqa: F401 (the built-in sources register on import)

    return SOURCES.get(name)(location, encoding)
