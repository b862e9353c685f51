"""Export formats: the plug point's interface and registry (docs/architecture.md).

A format turns the export's rows (a header and lists of values) into the bytes of a file.
The export service picks one by the name stored on the export (`Export.format`); the page's
choices and the model's come from FORMATS, in each format's `position`.
"""

from abc import ABC, abstractmethod
from typing import BinaryIO

from madoguchi.registry import Registry


class RowWriter(ABC):
    """Writes one export's rows into a binary file object, then lets it go (close() flushes
    and detaches; the file object stays open for the caller)."""

    @abstractmethod
    def row(self, values: list) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class ExportFormat(ABC):
    label: str  # shown on the page (Japanese, translated)
    extension: str  # of the downloaded file
    content_type: str  # of the download
    position: int  # where it stands among the choices
    # The encoding every character must fit in, or None (any Unicode). A character that does
    # not fit fails the whole export with a report (exports.services), never a partial file.
    strict_encoding: str | None = None
    encoding_label: str = ""  # the encoding as the report names it

    @abstractmethod
    def writer(self, header: list[str], out: BinaryIO) -> RowWriter: ...


FORMATS: Registry[ExportFormat] = Registry("export format")


def choices() -> list[tuple[str, str]]:
    """(name, label) of every registered format, in their positions: the page's and the model's."""
    return [(e.name, e.implementation.label)
            for e in sorted(FORMATS.entries(), key=lambda e: e.implementation.position)]
