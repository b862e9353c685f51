"""The resident's 来庁予約: my bookings, book a slot (counter and day, then the time), the
booking with its QR code, change and cancel. Thin: rules in services."""

import datetime as dt

import segno
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core.dates import JST, today_in_japan
from madoguchi.identity.sessions import resident_required

from . import services
from .models import Counter


def _day(text, choices):
    try:
        day = dt.date.fromisoformat(text or "")
    except ValueError:
        return None
    return day if day in choices else None


def _slot(text):
    try:
        return dt.datetime.fromisoformat(text or "").replace(tzinfo=JST)
    except ValueError:
        return None


@never_cache
@resident_required
def mine(request, code):
    return render(request, "bookings/mine.html", {"bookings": services.mine(request.resident)})


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def new(request, code, public_id=None):
    """One page, two steps: the counter, the day and the purpose (GET), then the time (POST).
    With `public_id`, the same page changes an existing booking's time."""
    booking = None
    if public_id is not None:
        try:
            booking = services.own(request.resident, public_id)
        except services.BookingError as exc:
            return render(request, "bookings/mine.html", {"bookings": services.mine(request.resident),
                                                          "error": str(exc)}, status=exc.status)
    counters = list(Counter.objects.filter(active=True).order_by("name"))
    source = request.POST if request.method == "POST" else request.GET
    counter = booking.counter if booking else next((c for c in counters if str(c.pk) == source.get("counter")), None)
    days = services.bookable_days(counter, today_in_japan()) if counter else []
    day = _day(source.get("day"), days)
    purpose = booking.purpose if booking else (source.get("purpose") or "")[:services.PURPOSE_MAX]
    errors, status = {}, 200
    if request.method == "POST":
        try:
            if booking:
                services.change(request.resident, booking.public_id, _slot(request.POST.get("slot")))
                messages.success(request, _("予約の日時を変更しました。"))
                return redirect("bookings:detail", code, booking.public_id)
            made = services.book(request.resident, counter.pk if counter else None, _slot(request.POST.get("slot")),
                                 purpose)
        except services.BookingError as exc:
            errors[exc.field or "slot"] = str(exc)
            status = exc.status
        else:
            messages.success(request, _("来庁予約を受け付けました。"))
            return redirect("bookings:detail", code, made.public_id)
    elif source.get("day") and counter and day is None:
        errors["day"] = _("その日は予約を受け付けていません。一覧から日を選んでください。")
        status = 400
    slots = services.slots_on(counter, day) if counter and day else []
    return render(request, "bookings/new.html", {
        "counters": counters, "counter": counter, "days": days, "day": day, "purpose": purpose, "slots": slots,
        "errors": errors, "booking": booking}, status=status)


@never_cache
@resident_required
def detail(request, code, public_id):
    try:
        booking = services.own(request.resident, public_id)
    except services.BookingError as exc:
        return render(request, "bookings/mine.html", {"bookings": services.mine(request.resident),
                                                      "error": str(exc)}, status=exc.status)
    # What the counter's staff scan: the booking's reference, nothing personal.
    qr = segno.make(f"madoguchi-booking:{booking.public_id}", error="m").svg_data_uri(scale=5, border=2)
    return render(request, "bookings/detail.html", {"booking": booking, "qr": qr})


@never_cache
@require_POST
@resident_required
def cancel(request, code, public_id):
    try:
        services.cancel(request.resident, public_id)
    except services.BookingError as exc:
        messages.error(request, str(exc))
        return render(request, "bookings/mine.html", {"bookings": services.mine(request.resident)}, status=exc.status)
    messages.success(request, _("予約を取り消しました。"))
    return redirect("bookings:mine", code)
