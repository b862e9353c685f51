"""The export formats' registry (exports/formats/): the built-in formats by name, the page's
and the model's choices from the registry, each writer's bytes, and a format plugged in by
name alone written by the worker."""

import io

import pytest

from madoguchi.exports.formats import FORMATS, ExportFormat, RowWriter, choices
from madoguchi.exports.forms import ExportForm
from madoguchi.exports.models import Export
from madoguchi.registry import Entry, UnknownName

from .test_exports import content, export_now, three  # noqa: F401  (three: a fixture)

HEADER = ["受付番号", "被害場所"]
ROWS = [["R8-000001", "髙橋町"], ["R8-000002", 'a "quoted", b']]


def written(name: str, rows=ROWS) -> bytes:
    out = io.BytesIO()
    writer = FORMATS.get(name).writer(HEADER, out)
    for row in rows:
        writer.row(row)
    writer.close()
    return out.getvalue()


def test_the_built_in_formats_by_name_and_the_choices_come_from_the_registry():
    assert FORMATS.names() == ["csv_cp932", "csv_utf8", "jsonl"]
    assert [name for name, _ in choices()] == ["csv_utf8", "csv_cp932", "jsonl"]
    assert Export._meta.get_field("format").choices == choices()
    assert list(ExportForm().fields["format"].choices) == choices()
    with pytest.raises(UnknownName, match="unknown export format 'pdf'; known: csv_cp932, csv_utf8, jsonl"):
        FORMATS.get("pdf")


def test_csv_utf8_has_a_bom_and_crlf_and_quotes():
    assert written("csv_utf8") == ("\ufeff受付番号,被害場所\r\nR8-000001,髙橋町\r\n"
                                   'R8-000002,"a ""quoted"", b"\r\n').encode("utf-8")


def test_csv_cp932_is_shift_jis_without_bom_and_strict():
    assert written("csv_cp932") == ('受付番号,被害場所\r\nR8-000001,髙橋町\r\nR8-000002,"a ""quoted"", b"\r\n'
                                    ).encode("cp932")
    assert FORMATS.get("csv_cp932").strict_encoding == "cp932"
    assert FORMATS.get("csv_utf8").strict_encoding is None and FORMATS.get("jsonl").strict_encoding is None
    with pytest.raises(UnicodeEncodeError):  # never replaced: the service checks before writing
        written("csv_cp932", [["R8-000003", "𠮷野町"]])


def test_json_lines_one_object_a_row():
    assert written("jsonl").decode("utf-8").splitlines() == [
        '{"受付番号": "R8-000001", "被害場所": "髙橋町"}', '{"受付番号": "R8-000002", "被害場所": "a \\"quoted\\", b"}']


class _TabWriter(RowWriter):
    def __init__(self, header, out):
        self.out = out
        self.row(header)

    def row(self, values):
        self.out.write(("\t".join(str(v) for v in values) + "\n").encode("utf-8"))

    def close(self):
        pass


class _Tsv(ExportFormat):
    label = "TSV"
    extension = "tsv"
    content_type = "text/tab-separated-values; charset=utf-8"
    position = 9

    def writer(self, header, out):
        return _TabWriter(header, out)


def test_a_format_plugged_in_by_name_is_offered_and_written(catalog_a, three, kiki, monkeypatch):  # noqa: F811
    monkeypatch.setitem(FORMATS._entries, "tsv", Entry("tsv", _Tsv(), "test: tab-separated values"))
    assert ("tsv", "TSV") in ExportForm().fields["format"].choices
    export = export_now(catalog_a, kiki, fmt="tsv")
    assert export.state == "done" and export.file.endswith(".tsv") and export.filename().endswith(".tsv")
    lines = content(export).decode("utf-8").splitlines()
    assert lines[0].split("\t")[:2] == ["受付番号", "状態"] and len(lines) == 4
