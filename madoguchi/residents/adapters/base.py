"""The resident-record source plug point: `RecordSource` (what a source gives the import),
`SOURCES` (the registry of factories by name) and the errors a source raises."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Iterator, Protocol

from madoguchi.registry import Registry


@dataclass(frozen=True)
class RecordRow:
    line: int
    resident_number: str
    name: str
    name_kana: str
    name_alternative: str
    birth_date: dt.date
    sex: str
    address: str
    household_id: str
    is_household_head: bool
    relationship: str
    status: str
    support_measure: bool
    alphabet_name: str
    common_name: str
    domicile: str = ""
    family_register_head: str = ""
    under_correction: bool = False
    resident_since: dt.date | None = None
    left_on: dt.date | None = None
    flags: str = ""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class RecordSource(Protocol):
    """What an adapter provides: rows in file order, errors in place of bad rows."""

    def rows(self) -> Iterator[RecordRow | RowError]: ...

    def size_hint(self) -> int | None:
        """Rows expected, for progress (None when unknown)."""


class SourceUnreadable(ValueError):
    """The delivery as a whole cannot be read (encoding, header, size): nothing is imported."""


# A factory: (location, encoding) -> a RecordSource. The location is what the core system
# delivered (a file path for CSV); raises OSError or SourceUnreadable.
SourceFactory = Callable[[str, str], RecordSource]
SOURCES: Registry[SourceFactory] = Registry("resident-record source")


def open_source(name: str, location: str, encoding: str) -> RecordSource:
    """The configured source (settings.RESIDENT_RECORD_SOURCE) over one delivery.
    Raises registry.UnknownName, listing the known sources, for an unknown name."""
    from . import csv_file  # noqa: F401 (the built-in sources register on import)

    return SOURCES.get(name)(location, encoding)
