"""JSON Lines: one object per application, the header's names as keys, UTF-8."""

import io
import json

from django.utils.translation import gettext_lazy as _

from .base import FORMATS, ExportFormat, RowWriter


class JsonLinesWriter(RowWriter):
    def __init__(self, header: list[str], out):
        self.header = header
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="\n")

    def row(self, values: list) -> None:
        self.text.write(json.dumps(dict(zip(self.header, values)), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


class JsonLines(ExportFormat):
    label = _("JSON Lines（UTF-8）")
    extension = "jsonl"
    content_type = "application/jsonl; charset=utf-8"
    position = 3

    def writer(self, header, out):
        return JsonLinesWriter(header, out)


FORMATS.register("jsonl", "JSON Lines in UTF-8, one object per row")(JsonLines())
