"""The national registry's extract as a CSV file (demo and development format).

Header row with the columns of COLUMNS (any order, others ignored), UTF-8 (BOM allowed) or
cp932. Each row: 宛名番号, bank code, branch code, 預金種目 (1 普通, 2 当座, 4 貯蓄),
account number, holder name in kana (any width). Rows are checked by the import service.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .base import SOURCES, ExtractRow, RowError, SourceUnreadable

COLUMNS = ("resident_number", "bank_code", "branch_code", "account_type", "account_number", "holder_kana")


@SOURCES.register("csv", "a CSV extract of the national registry (columns in csv_file.COLUMNS); the "
                         "demo and development format, standing in for the registry's own delivery")
class CsvExtractSource:
    def __init__(self, location: str, encoding: str = "utf-8-sig"):
        self.path = Path(location)
        self.encoding = encoding

    def rows(self):
        try:
            handle = self.path.open(newline="", encoding=self.encoding)
        except LookupError:
            raise SourceUnreadable(f"unknown encoding {self.encoding!r}") from None
        with handle:
            try:
                reader = csv.DictReader(handle)
                missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise SourceUnreadable(f"the header row lacks {', '.join(missing)} (expected {','.join(COLUMNS)})")
                for raw in reader:
                    if None in raw:
                        yield RowError(reader.line_num, "more fields than the header names")
                        continue
                    yield ExtractRow(reader.line_num, *((raw.get(c) or "").strip() for c in COLUMNS))
            except UnicodeDecodeError:
                raise SourceUnreadable(f"not {self.encoding} text") from None
            except csv.Error as exc:
                raise SourceUnreadable(f"not a CSV file: {exc}") from None
