"""Back-office pages of broadcasts (お知らせ配信): compose, see the recipients per channel and
a test sent to oneself, approve (a second member of staff), send now or at a time, follow the
deliveries (the table refreshes itself while deliveries are queued). Administrators only.
Thin: the rules are in broadcasts.py."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.applications.services import reading as applications
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import broadcasts, quiet
from .models import Broadcast, Category

ADMIN = Membership.Role.ADMINISTRATOR


class BroadcastForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("表題（日本語・メールと端末に届きます）"), max_length=broadcasts.TITLE_MAX,
                            error_messages={"required": gettext_lazy("表題を入力してください。")})
    body = forms.CharField(label=gettext_lazy("本文（日本語・お知らせのページで読まれます）"),
                           max_length=broadcasts.BODY_MAX, widget=forms.Textarea(attrs={"rows": 6}),
                           error_messages={"required": gettext_lazy("本文を入力してください。")})
    title_en = forms.CharField(label=gettext_lazy("表題（英語・任意）"), max_length=broadcasts.TITLE_MAX, required=False)
    body_en = forms.CharField(label=gettext_lazy("本文（英語・任意）"), max_length=broadcasts.BODY_MAX, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))
    category = forms.ChoiceField(label=gettext_lazy("分類"), choices=Category.choices)
    segment = forms.ChoiceField(label=gettext_lazy("配信先"), choices=Broadcast.Segment.choices)
    district = forms.CharField(label=gettext_lazy("町丁目（配信先が町丁目のとき。住所の先頭、例: 東京都窓口市本町一丁目）"),
                               max_length=100, required=False)
    age_min = forms.IntegerField(label=gettext_lazy("年齢の下限（配信先が年齢のとき・歳）"), min_value=0, max_value=150,
                                 required=False)
    age_max = forms.IntegerField(label=gettext_lazy("年齢の上限（配信先が年齢のとき・歳）"), min_value=0, max_value=150,
                                 required=False)
    child_age_under = forms.IntegerField(label=gettext_lazy("子どもの年齢（配信先が子どものいる世帯のとき・〜歳未満）"),
                                         min_value=1, max_value=30, required=False)
    reference_date = forms.DateField(label=gettext_lazy("年齢の基準日（空なら配信日）"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    procedure_slug = forms.ChoiceField(label=gettext_lazy("手続き（配信先が申請者のとき）"), required=False)
    application_status = forms.ChoiceField(label=gettext_lazy("申請の状態（配信先が申請者のとき）"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["procedure_slug"].choices = [("", "—")] + applications.procedure_choices()
        self.fields["application_status"].choices = [("", "—")] + applications.status_choices()


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(label=gettext_lazy("配信日時（日本時間）"),
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                  format="%Y-%m-%dT%H:%M"),
                                       input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])


class QuietHoursForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("夜間は端末への通知を止める（防災・緊急は止めません）"), required=False)
    start = forms.TimeField(label=gettext_lazy("止める時刻（日本時間、例: 21:00）"), required=False,
                            widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                            error_messages={"invalid": gettext_lazy("時刻は 21:00 のように入力してください。")})
    end = forms.TimeField(label=gettext_lazy("再開する時刻（日本時間、例: 08:00）"), required=False,
                          widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                          error_messages={"invalid": gettext_lazy("時刻は 08:00 のように入力してください。")})

    def clean(self):
        data = super().clean()
        if data.get("enabled"):
            if data.get("start") is None and "start" not in self.errors:
                self.add_error("start", _("止める時刻を入力してください。"))
            if data.get("end") is None and "end" not in self.errors:
                self.add_error("end", _("再開する時刻を入力してください。"))
            if data.get("start") is not None and data.get("start") == data.get("end"):
                self.add_error("end", _("再開する時刻は止める時刻と違う時刻にしてください。"))
        return data


@never_cache
@staff_member_required(ADMIN)
def quiet_hours(request, code):
    """The municipality's quiet hours for push (the same rule as `madoguchi
    notices_quiet_hours`): e-mail and the inbox are never held, 防災・緊急 never waits."""
    current = quiet.hours_of(current_municipality())
    initial = {"enabled": current is not None, "start": current[0] if current else None,
               "end": current[1] if current else None}
    form = QuietHoursForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            if data["enabled"]:
                quiet.set_hours(current_municipality(), data["start"], data["end"])
                messages.success(request, _("夜間の一時停止を %(start)s〜%(end)s にしました。") % {
                    "start": data["start"].strftime("%H:%M"), "end": data["end"].strftime("%H:%M")})
            else:
                quiet.set_hours(current_municipality(), None, None)
                messages.success(request, _("夜間の一時停止をやめました。端末への通知はいつでも届きます。"))
            return redirect("notices_staff:quiet_hours", code)
        return render(request, "notices/staff_quiet_hours.html", {"form": form, "current": current}, status=400)
    return render(request, "notices/staff_quiet_hours.html", {"form": form, "current": current})


@never_cache
@staff_member_required(ADMIN)
def broadcast_list(request, code):
    form = BroadcastForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                broadcast = broadcasts.create(request.user, **form.cleaned_data)
            except broadcasts.BroadcastError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                return redirect("notices_staff:detail", code, broadcast.public_id)
        status = 400
    rows = Broadcast.objects.select_related("created_by", "approved_by").order_by("-created_at")[:50]
    return render(request, "notices/staff_list.html", {
        "form": form, "broadcasts": rows, "awaiting": broadcasts.awaiting_approval(request.user)}, status=status)


def _broadcast(public_id) -> Broadcast:
    broadcast = Broadcast.objects.select_related("created_by", "approved_by").filter(public_id=public_id).first()
    if broadcast is None:
        raise Http404
    return broadcast


@never_cache
@staff_member_required(ADMIN)
def broadcast_detail(request, code, public_id):
    return _detail(request, _broadcast(public_id))


def _detail(request, broadcast, error=None, status=200, schedule_form=None):
    statistics = broadcasts.statistics(broadcast)
    sent = broadcast.status == Broadcast.Status.SENT
    return render(request, "notices/staff_detail.html", {
        "broadcast": broadcast, "segment": broadcasts.segment_text(broadcast),
        "preview": None if sent else broadcasts.preview(broadcast),
        "needs_approval": broadcasts.needs_second_approval(broadcast),
        "can_approve": broadcast.status == Broadcast.Status.DRAFT and broadcast.created_by_id != request.user.pk,
        "schedule_form": schedule_form or ScheduleForm(),
        "statistics": statistics, "in_progress": broadcasts.in_progress(statistics), "error": error,
        "readers": broadcasts.readers(broadcast)}, status=status)


@never_cache
@require_GET
@staff_member_required(ADMIN)
def broadcast_statistics(request, code, public_id):
    """The delivery table alone, which the detail page polls (htmx) while deliveries are queued."""
    broadcast = _broadcast(public_id)
    statistics = broadcasts.statistics(broadcast)
    return render(request, "notices/_statistics.html", {
        "broadcast": broadcast, "statistics": statistics, "in_progress": broadcasts.in_progress(statistics),
        "readers": broadcasts.readers(broadcast)})


@require_POST
@staff_member_required(ADMIN)
def broadcast_action(request, code, public_id, action):
    broadcast = _broadcast(public_id)
    try:
        if action == "approve":
            broadcasts.approve(broadcast, request.user)
            messages.success(request, _("承認しました。"))
        elif action == "test":
            address = broadcasts.send_test(broadcast, request.user)
            messages.success(request, _("テストのメールを %(address)s に送りました。") % {"address": address})
        elif action == "schedule":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                return _detail(request, broadcast, status=400, schedule_form=form)
            # TIME_ZONE is Asia/Tokyo: the form's value is already Japan time, aware.
            broadcasts.schedule(broadcast, request.user, form.cleaned_data["scheduled_at"])
            messages.success(request, _("配信を予約しました。"))
        elif action == "unschedule":
            broadcasts.cancel_schedule(broadcast, request.user)
            messages.success(request, _("配信の予約を取り消しました。"))
        else:
            count = broadcasts.send(broadcast, request.user)
            messages.success(request, _("%(n)s人に配信しました。") % {"n": f"{count:,}"})
    except broadcasts.BroadcastError as exc:
        # A value to correct is a 400; a step the broadcast's state refuses, a 409.
        return _detail(request, _broadcast(public_id), error=str(exc),
                       status=400 if exc.field == "scheduled_at" else 409)
    return redirect("notices_staff:detail", code, public_id)
