import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.audit.models import AuditEvent
from madoguchi.residents.adapters.csv_file import CsvFormatError, CsvRecordSource
from madoguchi.residents.models import ResidentRecord
from madoguchi.residents.services import ImportRejected, import_records

HEADER = "宛名番号,氏名,氏名かな,生年月日,性別,住所,世帯番号,世帯主,続柄,状態,支援措置\n"
GOOD = HEADER + (
    "1001,髙橋\U000E0100　太郎,たかはし たろう,昭和50年4月1日,1,東京都窓口市本町1-1,H1,1,世帯主,住民,0\n"
    "1002,髙橋　花子,たかはし はなこ,1980-02-29,2,東京都窓口市本町1-1,H1,0,妻,住民,1\n"
)


def write(tmp_path, text, name="records.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def records(municipality):
    return list(ResidentRecord.unscoped.filter(municipality=municipality).order_by("resident_number"))


@pytest.mark.django_db
def test_import_keeps_names_exactly_and_builds_keys(tmp_path, muni_a):
    result = import_records(muni_a, CsvRecordSource(write(tmp_path, GOOD)))
    assert (result.created, result.updated) == (2, 0)
    taro, hanako = records(muni_a)
    assert taro.name == "髙橋\U000E0100　太郎"  # variation selector and full-width space intact
    assert taro.name_key == "高橋太郎"
    assert taro.birth_date == dt.date(1975, 4, 1) and taro.is_household_head
    assert hanako.support_measure and not hanako.address_disclosable
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="residents.imported").count() == 1


@pytest.mark.django_db
def test_reimport_updates_and_counts_unchanged(tmp_path, muni_a):
    import_records(muni_a, CsvRecordSource(write(tmp_path, GOOD)))
    moved = GOOD.replace("1002,髙橋　花子,たかはし はなこ,1980-02-29,2,東京都窓口市本町1-1,H1,0,妻,住民,1",
                         "1002,髙橋　花子,たかはし はなこ,1980-02-29,2,東京都窓口市本町1-1,H1,0,妻,転出,1")
    result = import_records(muni_a, CsvRecordSource(write(tmp_path, moved, "second.csv")))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert records(muni_a)[1].status == "moved_out"


@pytest.mark.django_db
def test_one_bad_row_rejects_the_whole_file_with_line_numbers(tmp_path, muni_a):
    bad = GOOD + "1003,山田 一郎,,平成32年1月1日,1,東京都,,,,,\n" + "1004,,,2000-01-01,3,,,,,,\n" + "1001,重複,,2000-01-01,1,x,,,,,\n"
    with pytest.raises(ImportRejected) as info:
        import_records(muni_a, CsvRecordSource(write(tmp_path, bad)))
    by_line = {e.line: e.message for e in info.value.errors}
    assert "Heisei" in by_line[4]
    assert "氏名 is empty" in by_line[5] and "性別" in by_line[5] and "住所 is empty" in by_line[5]
    assert "also on line 2" in by_line[6]
    assert records(muni_a) == []  # nothing written


@pytest.mark.django_db
def test_cp932_files_from_older_core_systems(tmp_path, muni_a):
    import_records(muni_a, CsvRecordSource(write(tmp_path, GOOD.replace("\U000E0100", ""), encoding="cp932"),
                                           encoding="cp932"))
    assert records(muni_a)[0].name == "髙橋　太郎"


def test_wrong_encoding_and_missing_column_are_format_errors(tmp_path):
    with pytest.raises(CsvFormatError, match="not utf-8"):
        list(CsvRecordSource(write(tmp_path, GOOD.replace("\U000E0100", ""), encoding="cp932")).rows())
    with pytest.raises(CsvFormatError, match="生年月日"):
        list(CsvRecordSource(write(tmp_path, "宛名番号,氏名,性別,住所\n1,a,1,b\n")).rows())
    with pytest.raises(CsvFormatError, match="empty"):
        list(CsvRecordSource(write(tmp_path, "")).rows())


@pytest.mark.django_db
def test_hostile_values_are_rejected(tmp_path, muni_a):
    hostile = HEADER + "1005,\x1b[31m赤\x1b[0m,,2000-01-01,1,x,,,,,\n" + f"1006,{'長' * 400},,2000-01-01,1,x,,,,,\n" \
        + "../../x,a,,2000-01-01,1,x,,,,,\n" + "1007,a,,2000-01-01,1,x\n"
    with pytest.raises(ImportRejected) as info:
        import_records(muni_a, CsvRecordSource(write(tmp_path, hostile)))
    messages = {e.line: e.message for e in info.value.errors}
    assert "control characters" in messages[2] and "longer than" in messages[3]
    assert "宛名番号" in messages[4] and "columns" in messages[5]


@pytest.mark.django_db
def test_the_command_reports_bad_rows_and_exits_2(tmp_path, muni_a, capsys):
    path = write(tmp_path, HEADER + "1003,山田 一郎,,not-a-date,1,東京都,,,,,\n")
    with pytest.raises(CommandError) as info:
        call_command("residents_import", str(path), "--municipality", muni_a.code)
    assert info.value.returncode == 2
    assert f"{path}:2: 生年月日" in capsys.readouterr().err
    call_command("residents_import", str(write(tmp_path, GOOD, "good.csv")), "--municipality", muni_a.code)
    assert "2 new" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_source_is_chosen_by_its_configured_name(tmp_path, muni_a, settings, capsys):
    path = write(tmp_path, GOOD)
    settings.RESIDENT_RECORD_SOURCE = "core-system-api"
    with pytest.raises(CommandError) as info:
        call_command("residents_import", str(path), "--municipality", muni_a.code)
    assert info.value.returncode == 2
    assert str(info.value).startswith("unknown resident-record source 'core-system-api'; known: csv")
    assert not records(muni_a)
    # An explicit --source wins over the setting.
    call_command("residents_import", str(path), "--municipality", muni_a.code, "--source", "csv")
    assert "2 new" in capsys.readouterr().out


def test_the_sources_say_what_they_are():
    from madoguchi.residents.adapters.base import SOURCES

    assert SOURCES.get("csv") is CsvRecordSource
    # The demo app registers its fictional residents, and says so, only where the demo is allowed.
    assert SOURCES.entry("demo").description.startswith("demo:")


@pytest.mark.django_db
def test_certificate_and_benefit_columns_are_read_and_checked(tmp_path, muni_a):
    header = HEADER.rstrip("\n") + ",本籍,筆頭者,記載修正中,住民となった年月日,異動日,区分\n"
    good = header + (
        "2001,窓口　一,まどぐち はじめ,1970-01-01,1,東京都窓口市本町1-1,H9,1,世帯主,住民,0,"
        "東京都窓口市本町一丁目1番地,窓口　一,1,令和2年4月1日,,非課税、生活保護\n"
        "2002,窓口　二,まどぐち じ,1972-01-01,2,東京都窓口市本町1-1,H9,0,妻,転出,0,,,0,2020-04-01,2026-11-30,\n")
    import_records(muni_a, CsvRecordSource(write(tmp_path, good)))
    one, two = records(muni_a)
    assert one.domicile == "東京都窓口市本町一丁目1番地" and one.family_register_head == "窓口　一" and one.under_correction
    assert one.resident_since == dt.date(2020, 4, 1) and one.left_on is None and one.flags == " 非課税 生活保護 "
    assert two.status == "moved_out" and two.left_on == dt.date(2026, 11, 30) and two.flags == ""
    bad = header + "2003,窓口　三,,1970-01-01,1,東京都窓口市本町1-1,H9,0,子,住民,0,,,maybe,2020-13-01,,\n"
    with pytest.raises(ImportRejected) as rejected:
        import_records(muni_a, CsvRecordSource(write(tmp_path, bad, "bad.csv")))
    (error,) = rejected.value.errors
    assert error.line == 2 and "記載修正中" in error.message and "住民となった年月日" in error.message
