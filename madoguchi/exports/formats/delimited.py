"""CSV exports: UTF-8 with a BOM (what Excel opens as UTF-8), and Shift_JIS as Windows
writes it (cp932), which many core systems' 一括取込 still read."""

import csv
import io

from django.utils.translation import gettext_lazy as _

from .base import FORMATS, ExportFormat, RowWriter


class CsvWriter(RowWriter):
    def __init__(self, header: list[str], out, encoding: str):
        # errors="strict": a character that slipped past the check fails loudly, never replaced.
        self.text = io.TextIOWrapper(out, encoding=encoding, errors="strict", newline="")
        self.csv = csv.writer(self.text, lineterminator="\r\n")
        self.csv.writerow(header)

    def row(self, values: list) -> None:
        self.csv.writerow(values)

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


class _Csv(ExportFormat):
    extension = "csv"
    encoding = "utf-8"

    def writer(self, header, out):
        return CsvWriter(header, out, self.encoding)


class CsvUtf8(_Csv):
    label = _("CSV（UTF-8・BOM付き）")
    content_type = "text/csv; charset=utf-8"
    position = 1
    encoding = "utf-8-sig"


class CsvCp932(_Csv):
    label = _("CSV（Shift_JIS／cp932）")
    content_type = "text/csv; charset=shift_jis"
    position = 2
    encoding = "cp932"
    strict_encoding = "cp932"
    encoding_label = "Shift_JIS（cp932）"


FORMATS.register("csv_utf8", "CSV in UTF-8 with a byte order mark, CRLF line ends")(CsvUtf8())
FORMATS.register("csv_cp932", "CSV in Shift_JIS (cp932), CRLF line ends; a character outside it fails the export")(
    CsvCp932())
