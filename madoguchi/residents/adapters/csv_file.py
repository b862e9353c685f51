"""CSV from the core system: one header line, then one record per line.

Headers are the Japanese column names below (English aliases accepted). Encoding is
UTF-8 (with or without BOM) or, for older core systems, cp932. Every value is checked;
a bad row becomes a RowError with its line number and the import is refused whole.
"""

import csv
import io
from pathlib import Path

from madoguchi.core.dates import parse_legal_date

from .base import SOURCES, RecordRow, RowError, SourceUnreadable

COLUMNS = {
    # canonical key: (Japanese header, English alias, required)
    "resident_number": ("宛名番号", "resident_number", True),
    "name": ("氏名", "name", True),
    "name_kana": ("氏名かな", "name_kana", False),
    "name_alternative": ("代替文字氏名", "name_alternative", False),
    "birth_date": ("生年月日", "birth_date", True),
    "sex": ("性別", "sex", True),
    "address": ("住所", "address", True),
    "household_id": ("世帯番号", "household_id", False),
    "is_household_head": ("世帯主", "is_household_head", False),
    "relationship": ("続柄", "relationship", False),
    "status": ("状態", "status", False),
    "support_measure": ("支援措置", "support_measure", False),
    "alphabet_name": ("英字氏名", "alphabet_name", False),
    "common_name": ("通称", "common_name", False),
    "domicile": ("本籍", "domicile", False),
    "family_register_head": ("筆頭者", "family_register_head", False),
    "under_correction": ("記載修正中", "under_correction", False),
    "resident_since": ("住民となった年月日", "resident_since", False),
    "left_on": ("異動日", "left_on", False),
    "flags": ("区分", "flags", False),
}
MAX_FIELD = 300
MAX_FILE_BYTES = 512 * 1024 * 1024

SEX = {"1": "1", "2": "2", "9": "9", "男": "1", "女": "2", "male": "1", "female": "2"}
STATUS = {"": "resident", "住民": "resident", "resident": "resident", "転出": "moved_out",
          "moved_out": "moved_out", "死亡": "deceased", "deceased": "deceased"}
TRUE = {"1", "true", "yes", "○", "有", "はい"}
FALSE = {"", "0", "false", "no", "無", "いいえ"}


class CsvFormatError(SourceUnreadable):
    """The file as a whole cannot be read (encoding, header, size)."""


@SOURCES.register("csv", "the core system's CSV file (UTF-8 or cp932), the columns named in csv_file.COLUMNS")
class CsvRecordSource:
    def __init__(self, path: Path, encoding: str = "utf-8-sig"):
        self.path = Path(path)
        self.encoding = encoding
        if self.path.stat().st_size > MAX_FILE_BYTES:
            raise CsvFormatError(f"{self.path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")

    def size_hint(self) -> int | None:
        with open(self.path, "rb") as f:
            return max(sum(1 for _ in f) - 1, 0)

    def rows(self):
        try:
            text = self.path.read_bytes().decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise CsvFormatError(f"{self.path.name} is not {self.encoding} (byte {exc.start})") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise CsvFormatError(f"{self.path.name} is empty") from None
        except csv.Error as exc:
            raise CsvFormatError(f"line 1: {exc}") from None
        index = self._map_header([h.strip() for h in header])
        line = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(reader.line_num, f"CSV: {exc}")
                return
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield RowError(line, f"{len(values)} columns where the header has {len(header)}")
                continue
            yield self._row(line, {key: values[i] for key, i in index.items()})

    @staticmethod
    def _map_header(header: list[str]) -> dict[str, int]:
        index = {}
        for key, (ja, en, required) in COLUMNS.items():
            for i, h in enumerate(header):
                if h in (ja, en):
                    index[key] = i
            if required and key not in index:
                raise CsvFormatError(f"line 1: the column {ja} ({en}) is missing")
        return index

    @staticmethod
    def _row(line: int, raw: dict[str, str]) -> RecordRow | RowError:
        get = lambda key: raw.get(key, "").strip()  # noqa: E731
        problems = []
        for key, value in raw.items():
            if len(value) > MAX_FIELD:
                problems.append(f"{COLUMNS[key][0]} is longer than {MAX_FIELD} characters")
            if any(ord(c) < 0x20 for c in value):
                problems.append(f"{COLUMNS[key][0]} contains control characters")
        number = get("resident_number")
        if not number or not number.isascii() or not number.isalnum() or len(number) > 20:
            problems.append("宛名番号 must be 1–20 letters or digits")
        if not get("name"):
            problems.append("氏名 is empty")
        if not get("address"):
            problems.append("住所 is empty")
        birth = None
        try:
            birth = parse_legal_date(get("birth_date"))
        except ValueError as exc:
            problems.append(f"生年月日: {exc}")
        sex = SEX.get(get("sex").lower())
        if sex is None:
            problems.append(f"性別 {get('sex')!r} is not 1, 2 or 9")
        status = STATUS.get(get("status").lower())
        if status is None:
            problems.append(f"状態 {get('status')!r} is not 住民, 転出 or 死亡")
        flags = {}
        for key in ("is_household_head", "support_measure", "under_correction"):
            value = get(key).lower()
            if value in TRUE:
                flags[key] = True
            elif value in FALSE:
                flags[key] = False
            else:
                problems.append(f"{COLUMNS[key][0]} {get(key)!r} is not yes or no")
        dates = {}
        for key in ("resident_since", "left_on"):
            try:
                dates[key] = parse_legal_date(get(key)) if get(key) else None
            except ValueError as exc:
                problems.append(f"{COLUMNS[key][0]}: {exc}")
        tags = get("flags").replace("、", " ").replace(",", " ").split()
        if problems:
            return RowError(line, "; ".join(problems))
        return RecordRow(
            line=line, resident_number=number, name=raw["name"].strip(), name_kana=get("name_kana"),
            name_alternative=get("name_alternative"), birth_date=birth, sex=sex, address=get("address"),
            household_id=get("household_id"), relationship=get("relationship"), status=status,
            alphabet_name=get("alphabet_name"), common_name=get("common_name"), domicile=get("domicile"),
            family_register_head=get("family_register_head"), flags=f" {' '.join(tags)} " if tags else "",
            **dates, **flags,
        )
