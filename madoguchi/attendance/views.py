"""Resident registration for events, and the organiser's pages (events, members' attendance
per pairwise id, the CSV export, which terminal records which event). Thin: services do it."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from madoguchi.identity.sessions import resident_required
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services

# CHOICE: the organiser is staff of the municipality (administrators and reviewers: a 生涯学習課
# running a lecture); an outside organiser (a university) gets a staff account or, later,
# its own organiser account.
ORGANISERS = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def portal(request, code):
    status, error = 200, ""
    if request.method == "POST":
        try:
            services.register(request.resident, request.POST.get("event", ""))
        except services.AttendanceError as exc:
            status, error = 400, exc.message
        else:
            messages.success(request, _("参加登録をしました。会場の端末でカードをかざしてください（暗証番号は不要です）。"))
            return redirect("attendance:portal", code)
    offered = services.SERVICE in services.cards.enabled_keys()
    mine = list(services.memberships_of(request.resident))
    return render(request, "attendance/portal.html", {
        "mine": mine, "offered": offered, "error": error,
        "open_events": list(services.open_events()) if offered else []}, status=status)


class EventForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("催し・部屋の名前"), max_length=100)
    place = forms.CharField(label=gettext_lazy("場所"), max_length=200, required=False)
    starts_on = forms.DateField(label=gettext_lazy("開始日"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=gettext_lazy("終了日"), widget=forms.DateInput(attrs={"type": "date"}))
    names_allowed = forms.BooleanField(label=gettext_lazy("参加者の氏名を主催者に示す（根拠があるときだけ）"), required=False)
    legal_basis = forms.CharField(label=gettext_lazy("氏名を示す根拠（法令・条例・本人の同意など）"), max_length=2000,
                                  required=False, widget=forms.Textarea(attrs={"rows": 3}))


@never_cache
@staff_member_required(*ORGANISERS)
def events(request, code):
    form, status = EventForm(), 200
    if request.method == "POST":
        form = EventForm(request.POST)
        if form.is_valid():
            try:
                event = services.create_event(request.user, **form.cleaned_data)
            except services.AttendanceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("催しを追加しました。"))
                return redirect("attendance:event", code, event.pk)
        status = 400
    return render(request, "attendance/staff_events.html", {"events": services.events(), "form": form},
                  status=status)


def _event(pk):
    event = services.events().filter(pk=pk).first()
    if event is None:
        raise Http404
    return event


@never_cache
@staff_member_required(*ORGANISERS)
def event(request, code, pk, status=200, error=""):
    found = _event(pk)
    return render(request, "attendance/staff_event.html", {
        "event": found, "rows": services.attendance(found), "refused": services.refused_taps(found)[:200],
        "terminals": services.attendance_terminals(), "gates": found.gates.select_related("terminal"),
        "error": error}, status=status)


@never_cache
@require_POST
@staff_member_required(*ORGANISERS)
def assign(request, code, pk):
    found = _event(pk)
    try:
        services.assign_terminal(request.user, found, request.POST.get("terminal"))
    except services.AttendanceError as exc:
        return event(request, code, pk, status=400, error=exc.message)
    messages.success(request, _("この端末でこの催しの出欠を記録します。端末は次の同期で参加者の一覧を受け取ります。"))
    return redirect("attendance:event", code, pk)


@never_cache
@require_safe
@staff_member_required(*ORGANISERS)
def export(request, code, pk):
    found = _event(pk)
    response = HttpResponse(services.export_csv(request.user, found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attendance-{found.public_id}.csv"'
    return response
