"""Back office of moving: the 転入予定 received, the 転出 sent, the 転入 confirmed at the counter.
Thin: moving.services does the work."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.core.dates import today_in_japan
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import FollowUp, IncomingMove, OutgoingMove

DECIDERS = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


class ConfirmForm(forms.Form):
    moved_in_on = forms.DateField(label=gettext_lazy("転入日（引越しした日）"),
                                  widget=forms.DateInput(attrs={"type": "date"}))
    address = forms.CharField(label=gettext_lazy("転入先の住所"), max_length=300,
                              help_text=gettext_lazy("転出届の新しい住所です。実際の住所と違うときは直してください。"))


class DestinationForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("転入先の全国地方公共団体コード（6桁）"), max_length=6, min_length=6,
                           help_text=gettext_lazy("検査数字を含む6桁です（例: 見本町は 279994）。"))


@never_cache
@staff_member_required()
def index(request, code):
    return render(request, "moving/staff_index.html", services.moves_of(request.municipality))


def _incoming(pk) -> IncomingMove:
    move = IncomingMove.objects.filter(pk=pk).first()
    if move is None:
        raise Http404
    return move


def _outgoing(pk) -> OutgoingMove:
    move = OutgoingMove.objects.filter(pk=pk).first()
    if move is None:
        raise Http404
    return move


@never_cache
@staff_member_required()
def incoming(request, code, pk):
    move = _incoming(pk)
    status = 200
    form = ConfirmForm(initial={"moved_in_on": today_in_japan(), "address": move.payload.get("new_address", "")})
    if request.method == "POST":
        if request.membership.role not in DECIDERS:
            return HttpResponse(_("転入を確定できるのは審査担当または管理者です。"), status=403)
        form = ConfirmForm(request.POST)
        if form.is_valid():
            try:
                services.confirm(request.user, move, moved_in_on=form.cleaned_data["moved_in_on"],
                                 address=form.cleaned_data["address"])
            except services.MoveError as exc:
                form.add_error("moved_in_on" if "転入日" in exc.message else None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("転入を確定しました。住民記録を作成しました。"))
                return redirect("moving_staff:incoming", code, move.pk)
        else:
            status = 400
    return render(request, "moving/staff_incoming.html", {
        "move": move, "persons": move.payload.get("persons", []), "payload": move.payload, "form": form,
        "origin": services.origin_of(move), "can_decide": request.membership.role in DECIDERS}, status=status)


@never_cache
@staff_member_required()
def outgoing(request, code, pk):
    move = _outgoing(pk)
    status = 200
    form = DestinationForm(initial={"code": move.destination_code})
    if request.method == "POST":
        if request.membership.role not in DECIDERS:
            return HttpResponse(_("転入先を入力できるのは審査担当または管理者です。"), status=403)
        form = DestinationForm(request.POST)
        if form.is_valid():
            try:
                services.set_destination(request.user, move, form.cleaned_data["code"])
            except services.MoveError as exc:
                form.add_error("code", exc.message)
                status = exc.status
            else:
                messages.success(request, _("転入先を入力し、転出情報に署名しました。"))
                return redirect("moving_staff:outgoing", code, move.pk)
        else:
            status = 400
    return render(request, "moving/staff_outgoing.html", {
        "move": move, "persons": move.payload.get("persons", []), "payload": move.payload, "form": form,
        "can_decide": request.membership.role in DECIDERS}, status=status)


def _signed_file(request, export, move, filename: str, back: str):
    """The signed JSON as an attachment (the export audited), or back to the page with why not."""
    try:
        data = export(move, request.user)
    except services.MoveError as exc:
        messages.error(request, exc.message)
        return redirect(back, request.municipality.code, move.pk)
    response = HttpResponse(data, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@never_cache
@require_POST
@staff_member_required(*DECIDERS)
def download(request, code, pk):
    move = _outgoing(pk)
    return _signed_file(request, services.export, move, f"tenshutsu-{move.application}.json", "moving_staff:outgoing")


@never_cache
@require_POST
@staff_member_required(*DECIDERS)
def download_notice(request, code, pk):
    move = _incoming(pk)
    return _signed_file(request, services.export_notice, move, f"tennyu-notice-{move.application}.json",
                        "moving_staff:incoming")


class FollowUpForm(forms.ModelForm):
    class Meta:
        model = FollowUp
        fields = ["event", "title", "applies_to", "procedure_slug", "where", "position"]
        help_texts = {"procedure_slug": gettext_lazy("オンライン申請の手続きの英字の名前（例: jidou-teate）。空欄なら窓口の案内を出します。"),
                      "position": gettext_lazy("小さい順に並びます。")}

    def clean(self):
        data = super().clean()
        if not data.get("procedure_slug") and not data.get("where"):
            self.add_error("where", _("オンライン申請の手続きか窓口のどちらかを入力してください。"))
        return data


@never_cache
@staff_member_required(Membership.Role.ADMINISTRATOR)
def follow_ups(request, code):
    form, status = FollowUpForm(), 200
    if request.method == "POST":
        form = FollowUpForm(request.POST)
        if form.is_valid():
            services.add_follow_up(request.user, municipality=request.municipality, **form.cleaned_data)
            messages.success(request, _("手続きを一覧に追加しました。"))
            return redirect("moving_staff:follow_ups", code)
        status = 400
    return render(request, "moving/staff_follow_ups.html", {"rows": FollowUp.objects.all(), "form": form},
                  status=status)


@never_cache
@require_POST
@staff_member_required(Membership.Role.ADMINISTRATOR)
def remove_follow_up(request, code, pk):
    follow_up = FollowUp.objects.filter(pk=pk).first()
    if follow_up is None:
        raise Http404
    services.remove_follow_up(request.user, follow_up)
    messages.success(request, _("手続きを一覧から外しました。"))
    return redirect("moving_staff:follow_ups", code)
