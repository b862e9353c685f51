import datetime as dt

from django import template
from django.utils import timezone, translation

from madoguchi.core.dates import format_datetime, format_legal_date, format_yen

register = template.Library()


@register.filter
def legal_date(value):
    """A date (an aware datetime, taken in Asia/Tokyo; an ISO date string) in the era and the
    Western year; text that is not a date is shown as it is."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    if isinstance(value, str):  # an ISO date kept as text (a signed package's payload)
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    return format_legal_date(value, translation.get_language() or "ja")


@register.filter
def tokyo_time(value):
    """An aware datetime as Japan's wall time, minutes precision: 令和8年12月5日 4時03分
    (core.dates.format_datetime, the one style of every page)."""
    if value in (None, ""):
        return ""
    return format_datetime(value, translation.get_language() or "ja")


@register.filter
def yen(value):
    """An amount in yen with separators: 1,600円 (English: ¥1,600)."""
    if value in (None, ""):
        return ""
    return format_yen(value, translation.get_language() or "ja")
