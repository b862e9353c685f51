import datetime as dt
from dataclasses import dataclass
from typing import Iterator, Protocol


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


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class RecordSource(Protocol):
    """What an adapter provides: rows in file order, errors in place of bad rows."""

    def rows(self) -> Iterator[RecordRow | RowError]: ...

    def size_hint(self) -> int | None:
        """Rows expected, for progress (None when unknown)."""
