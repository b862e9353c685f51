"""Back-office pages of broadcasts (お知らせ配信): compose, see the recipient count, approve
(a second member of staff), send, statistics. Administrators only. Thin: the rules are in
broadcasts.py."""

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import broadcasts
from .models import Broadcast, Category

ADMIN = Membership.Role.ADMINISTRATOR


class BroadcastForm(forms.Form):
    title = forms.CharField(label=_("表題"), max_length=broadcasts.TITLE_MAX)
    category = forms.ChoiceField(label=_("分類"), choices=Category.choices)
    segment = forms.ChoiceField(label=_("配信先"), choices=Broadcast.Segment.choices)
    district = forms.CharField(label=_("町丁目（住所の先頭、例: 東京都窓口市本町一丁目）"), max_length=100, required=False)


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
    return render(request, "notices/staff_list.html", {"form": form, "broadcasts": rows}, status=status)


def _broadcast(public_id) -> Broadcast:
    broadcast = Broadcast.objects.select_related("created_by", "approved_by").filter(public_id=public_id).first()
    if broadcast is None:
        raise Http404
    return broadcast


@never_cache
@staff_member_required(ADMIN)
def broadcast_detail(request, code, public_id):
    return _detail(request, _broadcast(public_id))


def _detail(request, broadcast, error=None, status=200):
    return render(request, "notices/staff_detail.html", {
        "broadcast": broadcast, "recipient_count": len(broadcasts.recipients(broadcast)),
        "needs_approval": broadcasts.needs_second_approval(broadcast),
        "statistics": broadcasts.statistics(broadcast), "error": error}, status=status)


@require_POST
@staff_member_required(ADMIN)
def broadcast_action(request, code, public_id, action):
    broadcast = _broadcast(public_id)
    try:
        if action == "approve":
            broadcasts.approve(broadcast, request.user)
        else:
            broadcasts.send(broadcast, request.user)
    except broadcasts.BroadcastError as exc:
        return _detail(request, broadcast, error=str(exc), status=409)
    return redirect("notices_staff:detail", code, public_id)
