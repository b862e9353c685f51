import datetime as dt

import pytest

from madoguchi.core.dates import format_english, format_japanese, format_legal_date, to_era


@pytest.mark.parametrize(
    "day, expected",
    [
        (dt.date(2019, 5, 1), "令和元年5月1日（2019年5月1日）"),
        (dt.date(2019, 4, 30), "平成31年4月30日（2019年4月30日）"),
        (dt.date(2026, 11, 26), "令和8年11月26日（2026年11月26日）"),
        (dt.date(1989, 1, 7), "昭和64年1月7日（1989年1月7日）"),
        (dt.date(1989, 1, 8), "平成元年1月8日（1989年1月8日）"),
        (dt.date(1926, 12, 25), "昭和元年12月25日（1926年12月25日）"),
        (dt.date(1926, 12, 24), "大正15年12月24日（1926年12月24日）"),
        (dt.date(1912, 7, 30), "大正元年7月30日（1912年7月30日）"),
        (dt.date(1912, 7, 29), "明治45年7月29日（1912年7月29日）"),
        (dt.date(1873, 1, 1), "明治6年1月1日（1873年1月1日）"),
    ],
)
def test_japanese_era_with_western_year(day, expected):
    assert format_japanese(day) == expected


def test_english_form():
    assert format_english(dt.date(2019, 5, 1)) == "1 May 2019 (Reiwa 1)"
    assert format_legal_date(dt.date(2020, 2, 29), "en") == "29 February 2020 (Reiwa 2)"
    assert format_legal_date(dt.date(2020, 2, 29), "ja") == "令和2年2月29日（2020年2月29日）"


def test_before_the_gregorian_calendar_is_refused():
    with pytest.raises(ValueError, match="Gregorian"):
        to_era(dt.date(1872, 12, 31))


def test_datetime_is_refused_so_the_timezone_is_never_guessed():
    with pytest.raises(TypeError):
        to_era(dt.datetime(2019, 5, 1, 0, 0))


def test_template_filter_uses_tokyo_time(settings):
    from django.utils import translation

    from madoguchi.core.templatetags.madoguchi import legal_date

    # 2019-04-30 15:30 UTC is 2019-05-01 00:30 in Tokyo: the first day of Reiwa.
    moment = dt.datetime(2019, 4, 30, 15, 30, tzinfo=dt.timezone.utc)
    with translation.override("ja"):
        assert legal_date(moment) == "令和元年5月1日（2019年5月1日）"


@pytest.mark.parametrize("text", ["2019-05-01", "20190501", "2019/5/1", "令和元年5月1日", "R1.5.1", "r01-05-01"])
def test_parse_the_forms_core_systems_write(text):
    from madoguchi.core.dates import parse_legal_date

    assert parse_legal_date(text) == dt.date(2019, 5, 1)


@pytest.mark.parametrize("text", ["平成32年1月1日", "令和元年4月30日", "S64.1.8", "2019-02-30", "", "5月1日", "R0.1.1"])
def test_parse_refuses_impossible_dates(text):
    from madoguchi.core.dates import parse_legal_date

    with pytest.raises(ValueError):
        parse_legal_date(text)
