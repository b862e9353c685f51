"""Back office of card services: terminals (register by pasting the public key, revoke with
a reason) and tickets (ticket types, their tickets, admissions and conflicts, rebinding a
ticket to its holder's renewed card). Administrators only; thin: services do it."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .models import TicketType

ADMIN = Membership.Role.ADMINISTRATOR


class TerminalForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("端末の名前（例: 東口入場ゲート1）"), max_length=100)
    place = forms.CharField(label=gettext_lazy("設置場所"), max_length=200, required=False)
    service = forms.ChoiceField(label=gettext_lazy("サービス"))
    ticket_type = forms.TypedChoiceField(label=gettext_lazy("チケットの種類（入場口のとき。空欄ならその日の全チケット）"),
                                         coerce=int, required=False, empty_value=None)
    public_key = forms.CharField(
        label=gettext_lazy("端末の公開鍵"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("端末で「madoguchi terminal keygen --out 鍵ファイル名」を実行すると表示される、"
                               "「-----BEGIN PUBLIC KEY-----」から「-----END PUBLIC KEY-----」までを貼り付けます。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [(s.key, s.title) for s in services.all_services()
                                          if s.key in services.terminal_services()]
        self.fields["ticket_type"].choices = [("", "—")] + [(t.pk, str(t)) for t in services.ticket_types()]


class TicketTypeForm(forms.Form):
    event = forms.CharField(label=gettext_lazy("イベント"), max_length=100)
    day = forms.DateField(label=gettext_lazy("開催日"), widget=forms.DateInput(attrs={"type": "date"}))
    admission = forms.CharField(label=gettext_lazy("入場の種類（例: 一般、自由席）"), max_length=50)
    single_entry = forms.TypedChoiceField(
        label=gettext_lazy("入場の回数"), initial="1", coerce=lambda value: value == "1", required=False,
        empty_value=True,  # not given: once, as before the choice existed
        choices=[("1", gettext_lazy("1回だけ（入場するとそのチケットは使用済み）")),
                 ("0", gettext_lazy("当日は何度でも（再入場できる）"))],
        help_text=gettext_lazy("再入場できるチケットは、ゲートを通るたびに記録され、使用済みになりません。"))


def _terminals_page(request, form=None, status=200):
    return render(request, "citizencard/staff_terminals.html",
                  {"terminals": services.terminals(), "form": form or TerminalForm()}, status=status)


@never_cache
@staff_member_required(ADMIN)
def terminals(request, code):
    if request.method != "POST":
        return _terminals_page(request)
    form = TerminalForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            terminal = services.register_terminal(
                request.user, name=data["name"], place=data["place"], service_key=data["service"],
                public_key=data["public_key"], ticket_type_id=data["ticket_type"])
        except services.CitizenCardError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("端末を登録しました。端末ID: %(id)s") % {"id": terminal.public_id})
            return redirect("citizencard:terminals", code)
    return _terminals_page(request, form, 400)


@never_cache
@require_POST
@staff_member_required(ADMIN)
def revoke_terminal(request, code, pk):
    try:
        services.revoke_terminal(request.user, pk, request.POST.get("reason", ""))
    except services.CitizenCardError as exc:
        if exc.field == "terminal" and not services.terminals().filter(pk=pk).exists():
            raise Http404 from None
        messages.error(request, exc.message)
    else:
        messages.success(request, _("端末を停止しました。この端末からの接続は受け付けません。"))
    return redirect("citizencard:terminals", code)


@never_cache
@staff_member_required(ADMIN)
def ticket_types(request, code):
    form, status = TicketTypeForm(), 200
    if request.method == "POST":
        form = TicketTypeForm(request.POST)
        if form.is_valid():
            try:
                services.create_ticket_type(request.user, **form.cleaned_data)
            except services.CitizenCardError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("チケットの種類を追加しました。"))
                return redirect("citizencard:ticket_types", code)
        status = 400
    return render(request, "citizencard/staff_ticket_types.html",
                  {"ticket_types": services.ticket_types(), "form": form}, status=status)


def _ticket_type(pk) -> TicketType:
    ticket_type = services.ticket_types().filter(pk=pk).first()
    if ticket_type is None:
        raise Http404
    return ticket_type


@never_cache
@staff_member_required(ADMIN)
def ticket_type(request, code, pk):
    ticket_type = _ticket_type(pk)
    events = list(services.events_for_staff(ticket_type)[:500])
    return render(request, "citizencard/staff_ticket_type.html", {
        "ticket_type": ticket_type, "tickets": services.tickets_for_staff(ticket_type),
        "events": events, "conflicts": [e for e in events if e.outcome in ("conflict", "cancelled")]})


@never_cache
@require_POST
@staff_member_required(ADMIN)
def rebind(request, code, pk, ticket_id):
    ticket_type = _ticket_type(pk)
    if not services.tickets_for_staff(ticket_type).filter(pk=ticket_id).exists():
        raise Http404
    try:
        services.rebind_ticket(request.user, ticket_id)
    except services.CitizenCardError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("チケットを利用者の現在のカードに付け替えました。"))
    return redirect("citizencard:ticket_type", code, pk)


@never_cache
@require_POST
@staff_member_required(ADMIN)
def cancel(request, code, pk, ticket_id):
    ticket_type = _ticket_type(pk)
    if not services.tickets_for_staff(ticket_type).filter(pk=ticket_id).exists():
        raise Http404
    try:
        services.cancel_ticket({"pk": ticket_id}, actor=request.user)
    except services.CitizenCardError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("チケットを取り消しました。入場口には次の同期から届きます。"))
    return redirect("citizencard:ticket_type", code, pk)


# -- the card as the 印鑑登録証 ---------------------------------------------------------------

class SealCheckForm(forms.Form):
    certificate = forms.CharField(
        label=gettext_lazy("カードの利用者証明用電子証明書"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("窓口の端末でカードを読み取った証明書（暗証番号なし）です。PEM または Base64 のまま貼り付けます。"))


@never_cache
@staff_member_required()
def seal(request, code):
    """The counter: a 印鑑登録証明書 is requested; the card's presence replaces the plastic
    印鑑登録証 when its holder chose so. Any staff member of the municipality checks; every
    check is audited."""
    form, answer, status = SealCheckForm(), None, 200
    if request.method == "POST":
        form = SealCheckForm(request.POST)
        if form.is_valid():
            answer = services.check_seal_card(request.user, form.cleaned_data["certificate"])
            status = 200 if answer.ok else 409
            if answer.code == "bad_certificate":
                form.add_error("certificate", answer.message)
                status = 400
        else:
            status = 400
    response = render(request, "citizencard/staff_seal.html", {
        "form": form, "answer": answer, "cards": services.seal_cards()[:200], "agent_url": settings.COUNTER_AGENT_URL,
        "can_revoke": request.membership.role == ADMIN}, status=status)
    response._csp_update = {"connect-src": [settings.COUNTER_AGENT_URL]}  # the counter's card agent reads the card
    return response


@never_cache
@require_POST
@staff_member_required(ADMIN)
def seal_revoke(request, code, pk):
    choice = services.seal_cards().filter(pk=pk, revoked_at__isnull=True).first()
    if choice is None:
        raise Http404
    try:
        services.revoke_seal_card(choice.person, user=request.user, reason=request.POST.get("reason", ""))
    except services.CitizenCardError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("マイナンバーカードを印鑑登録証として使う設定を取り消しました。"))
    return redirect("citizencard:seal_staff", code)
