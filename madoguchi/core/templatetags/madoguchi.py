import datetime as dt

from django import template
from django.utils import timezone, translation

from madoguchi.core.dates import format_legal_date

register = template.Library()


@register.filter
def legal_date(value):
    """A date (or an aware datetime, taken in Asia/Tokyo) in the era and the Western year."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return format_legal_date(value, translation.get_language() or "ja")


@register.filter
def tokyo_time(value):
    """An aware datetime as Asia/Tokyo wall time, minutes precision."""
    if value in (None, ""):
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


@register.filter
def yen(value):
    """An amount in yen with thousands separators (1600 → 1,600); the caller adds 円."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""
