"""Back office: counters, holidays, the day's list with visited / no-show marks."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.core.dates import today_in_japan
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import Counter, Holiday

ADMIN = Membership.Role.ADMINISTRATOR
TIME = {"widget": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


class CounterForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("窓口の名前"), max_length=100)
    place = forms.CharField(label=gettext_lazy("場所（例: 本庁舎1階 市民課）"), max_length=200, required=False)
    opens_at = forms.TimeField(label=gettext_lazy("受付開始"), **TIME)
    closes_at = forms.TimeField(label=gettext_lazy("受付終了"), **TIME)
    slot_minutes = forms.IntegerField(label=gettext_lazy("1枠の長さ（分）"), min_value=5, max_value=240)
    capacity = forms.IntegerField(label=gettext_lazy("1枠の定員"), min_value=1, max_value=100)
    book_days_ahead = forms.IntegerField(label=gettext_lazy("何日先まで予約できるか"), min_value=1, max_value=180,
                                         initial=30)


class HolidayForm(forms.Form):
    day = forms.DateField(label=gettext_lazy("休日"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label=gettext_lazy("名前（例: 年末年始）"), max_length=100, required=False)


def _page(request, status=200, counter_form=None, holiday_form=None):
    return render(request, "bookings/staff_counters.html", {
        "counters": Counter.objects.order_by("name"), "holidays": Holiday.objects.filter(day__gte=today_in_japan())
        .order_by("day")[:60], "counter_form": counter_form or CounterForm(),
        "holiday_form": holiday_form or HolidayForm()}, status=status)


@never_cache
@staff_member_required(ADMIN)
def counters(request, code):
    if request.method != "POST":
        return _page(request)
    if "day" in request.POST:
        form = HolidayForm(request.POST)
        if form.is_valid():
            try:
                services.add_holiday(request.user, form.cleaned_data["day"], form.cleaned_data["name"])
            except services.BookingError as exc:
                form.add_error("day", str(exc))
            else:
                messages.success(request, _("休日を追加しました。"))
                return redirect("bookings_staff:counters", code)
        return _page(request, 400, holiday_form=form)
    form = CounterForm(request.POST)
    if form.is_valid():
        try:
            services.create_counter(request.user, **form.cleaned_data)
        except services.BookingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, _("窓口を追加しました。"))
            return redirect("bookings_staff:counters", code)
    return _page(request, 400, counter_form=form)


@never_cache
@staff_member_required()
def day(request, code, pk):
    counter = Counter.objects.filter(pk=pk).first()
    if counter is None:
        raise Http404
    try:
        chosen = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        chosen = today_in_japan()
    return render(request, "bookings/staff_day.html", {
        "counter": counter, "day": chosen, "bookings": services.day_list(counter, chosen),
        "previous": chosen - dt.timedelta(days=1), "next": chosen + dt.timedelta(days=1),
        "can_mark": request.membership.role != Membership.Role.VIEWER})


@never_cache
@require_POST
@staff_member_required(ADMIN, Membership.Role.REVIEWER)
def mark(request, code, pk, booking_id):
    status = request.POST.get("status", "")
    try:
        booking = services.mark(request.user, booking_id, status)
    except services.BookingError as exc:
        messages.error(request, str(exc))
        return redirect("bookings_staff:day", code, pk)
    day_ = booking.starts_at.astimezone(services.JST).date()
    return redirect(reverse("bookings_staff:day", args=[code, pk]) + f"?day={day_.isoformat()}")
