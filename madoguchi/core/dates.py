"""Legal dates in the Japanese era (和暦) beside the Western year.

Era start dates are the Gregorian dates of each era's first day. Dates before Meiji 6
(1873), when Japan adopted the Gregorian calendar, are refused rather than shown wrongly.
"""

import calendar
import datetime as dt
import re
from typing import NamedTuple

GREGORIAN_ADOPTION = dt.date(1873, 1, 1)

# Japan Standard Time: UTC+9, no daylight saving since 1951, so a fixed offset is exact.
# The one definition for the Django apps; pki/ (a pure library) keeps its own.
JST = dt.timezone(dt.timedelta(hours=9))


def today_in_japan() -> dt.date:
    """Today's date in Japan: deadlines, receipt-number years and opening dates follow it."""
    return dt.datetime.now(JST).date()


class Era(NamedTuple):
    name: str  # 令和
    romaji: str  # Reiwa
    start: dt.date


ERAS: tuple[Era, ...] = (
    Era("令和", "Reiwa", dt.date(2019, 5, 1)),
    Era("平成", "Heisei", dt.date(1989, 1, 8)),
    Era("昭和", "Showa", dt.date(1926, 12, 25)),
    Era("大正", "Taisho", dt.date(1912, 7, 30)),
    Era("明治", "Meiji", dt.date(1868, 10, 23)),
)


class EraDate(NamedTuple):
    era: Era
    year: int  # 1 for the era's first year (元年)
    date: dt.date


def to_era(value: dt.date) -> EraDate:
    if isinstance(value, dt.datetime):
        raise TypeError("give a date, not a datetime: convert to Asia/Tokyo first")
    if value < GREGORIAN_ADOPTION:
        raise ValueError(f"{value.isoformat()} is before the Gregorian calendar was adopted in Japan")
    for era in ERAS:
        if value >= era.start:
            return EraDate(era, value.year - era.start.year + 1, value)
    raise AssertionError("unreachable: Meiji covers every date after 1873")


def era_year_text(year: int) -> str:
    return "元年" if year == 1 else f"{year}年"


def format_japanese(value: dt.date) -> str:
    """令和元年5月1日（2019年5月1日）"""
    e = to_era(value)
    return (
        f"{e.era.name}{era_year_text(e.year)}{value.month}月{value.day}日"
        f"（{value.year}年{value.month}月{value.day}日）"
    )


def format_english(value: dt.date) -> str:
    """1 May 2019 (Reiwa 1)"""
    e = to_era(value)
    return f"{value.day} {value.strftime('%B')} {value.year} ({e.era.romaji} {e.year})"


def format_legal_date(value: dt.date, language: str = "ja") -> str:
    return format_english(value) if language.startswith("en") else format_japanese(value)


_ERA_BY_LETTER = {"R": "令和", "H": "平成", "S": "昭和", "T": "大正", "M": "明治"}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_ERA_KANJI = re.compile(r"^(令和|平成|昭和|大正|明治)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日$")
_ERA_LETTER = re.compile(r"^([RHSTM])(\d{1,2})[./-](\d{1,2})[./-](\d{1,2})$", re.IGNORECASE)


def parse_legal_date(text: str) -> dt.date:
    """A date as core systems write it: 2019-05-01, 20190501, 2019/5/1, 令和元年5月1日, R1.5.1.

    An era date outside its era (平成32年, 令和元年4月1日) is refused, not rolled over.
    """
    import unicodedata

    value = unicodedata.normalize("NFKC", (text or "").strip())
    for pattern in (_ISO, _COMPACT, _SLASHED):
        m = pattern.match(value)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    m = _ERA_KANJI.match(value) or _ERA_LETTER.match(value)
    if not m:
        raise ValueError(f"{text!r} is not a date")
    era_name = _ERA_BY_LETTER.get(m[1].upper(), m[1])
    era_year = 1 if m[2] == "元" else int(m[2])
    era = next(e for e in ERAS if e.name == era_name)
    day = dt.date(era.start.year + era_year - 1, int(m[3]), int(m[4]))
    if era_year < 1 or to_era(day).era != era:
        raise ValueError(f"{text!r} is outside the {era.romaji} era")
    return day


# -- the one display style of dates, times and amounts (issue 17) --------------------------


def format_era_date(value: dt.date) -> str:
    """令和8年12月5日 (the era alone: for times and lists, where the Western year is noise)."""
    e = to_era(value)
    return f"{e.era.name}{era_year_text(e.year)}{value.month}月{value.day}日"


def format_datetime(value: dt.datetime, language: str = "ja") -> str:
    """An aware datetime as Japan's wall time: 令和8年12月5日 4時03分; English: 5 December 2026, 04:03."""
    if value.tzinfo is None:
        raise ValueError("give an aware datetime")
    local = value.astimezone(JST)
    if language.startswith("en"):
        return f"{local.day} {local.strftime('%B')} {local.year}, {local:%H:%M}"
    return f"{format_era_date(local.date())} {local.hour}時{local.minute:02d}分"


def format_yen(amount: int | None, language: str = "ja") -> str:
    """1,600円 (English: ¥1,600): separators always, whatever the amount."""
    if amount in (None, ""):
        return ""
    value = int(amount)
    return f"¥{value:,}" if language.startswith("en") else f"{value:,}円"


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (29 February → 28 February in a common year)."""
    year = day.year - years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def legal_age(birth: dt.date, on: dt.date) -> int:
    """年齢計算ニ関スル法律: the age on `on`, a year being complete at the end of the day
    before the birthday (so a person born on 1 April is a year older on 31 March)."""
    after = on + dt.timedelta(days=1)
    return after.year - birth.year - ((after.month, after.day) < (birth.month, birth.day))


def born_bounds(on: dt.date, age_min: int | None, age_max: int | None) -> tuple[dt.date | None, dt.date | None]:
    """(born on or before, born after): the birth dates of a legal age in [age_min, age_max]
    on `on` (either bound None: open)."""
    after = on + dt.timedelta(days=1)
    on_or_before = years_before(after, age_min) if age_min is not None else None
    born_after = years_before(after, age_max + 1) if age_max is not None else None
    return on_or_before, born_after
