"""Quiet hours (engine): a municipality's hours (e.g. 21:00–08:00 Japan time) during which a
push that is not 防災・緊急 waits until they end. E-mail is not held (it does not ring), the
in-portal inbox never is, and an emergency ignores them."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

from .models import Category, QuietHours

JST = ZoneInfo("Asia/Tokyo")
HELD_CHANNELS = {"push"}


def hours_of(municipality) -> tuple[dt.time, dt.time] | None:
    row = QuietHours.unscoped.filter(municipality=municipality).values_list("start", "end").first()
    return tuple(row) if row else None


def end_of(hours: tuple[dt.time, dt.time] | None, now: dt.datetime) -> dt.datetime | None:
    """When the quiet hours in force at `now` end (aware), or None when `now` is outside them."""
    if hours is None:
        return None
    start, end = hours
    if start == end:
        return None
    local = now.astimezone(JST)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if (start < end or t < end) else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=JST)


_UNREAD = object()


def deferred_until(municipality, channel_name: str, category: str, now: dt.datetime | None = None, *,
                   hours=_UNREAD):
    """The end of the quiet hours if a delivery on this channel and category must wait, else
    None (`hours`: the municipality's, when the caller read them already)."""
    if channel_name not in HELD_CHANNELS or category == Category.EMERGENCY:
        return None
    return end_of(hours_of(municipality) if hours is _UNREAD else hours, now or timezone.now())


def set_hours(municipality, start: dt.time | None, end: dt.time | None) -> None:
    """Sets (or with None, removes) the municipality's quiet hours (audited)."""
    from django.db import transaction

    from madoguchi.audit.services import record
    from madoguchi.municipalities.tenancy import tenant

    with tenant(municipality), transaction.atomic():
        if start is None or end is None:
            QuietHours.objects.filter(municipality=municipality).delete()
            record("notices.quiet_hours_changed", obj=municipality, data={"start": None, "end": None})
            return
        QuietHours.objects.update_or_create(municipality=municipality, defaults={"start": start, "end": end})
        record("notices.quiet_hours_changed", obj=municipality,
               data={"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")})
