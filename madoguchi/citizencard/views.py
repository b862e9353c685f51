"""Resident portal list and tickets, JSON export of the catalog, back-office toggle, and the
signed terminal API. Thin: services do it."""

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from madoguchi.core.access import public_view
from madoguchi.core.dates import today_in_japan
from madoguchi.identity.sessions import resident_required
from madoguchi.terminal import signing

from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .kiosk import render_kiosk


@public_view
@require_safe
def portal(request, code):
    return render(request, "citizencard/portal.html", {"services": services.enabled_services()})


@public_view
@require_safe
def export(request, code):
    response = JsonResponse(services.export(), json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"  # public catalog, no credentials
    return response


@never_cache
@staff_member_required(Membership.Role.ADMINISTRATOR)
def staff(request, code):
    status = 200
    if request.method == "POST":
        key, on = request.POST.get("key", ""), request.POST.get("enabled") == "1"
        try:
            services.set_enabled(request.user, key, on)
        except services.CitizenCardError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, _("市民カードのサービスの設定を保存しました。"))
            return redirect(request.path)
    keys = services.enabled_keys()
    rows = [(s, s.key in keys) for s in services.all_services()]
    return render(request, "citizencard/staff.html", {"rows": rows}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def tickets(request, code):
    """The resident's tickets and the ticket types open for binding to their card."""
    status, error = 200, ""
    if request.method == "POST" and "cancel" in request.POST:
        try:
            services.cancel_ticket({"person": request.resident, "public_id": request.POST["cancel"]},
                                   actor=("resident", str(request.resident.public_id)))
        except services.CitizenCardError as exc:
            status, error = 400, exc.message
        else:
            messages.success(request, _("チケットを取り消しました。入場口ではもう使えません。"))
            return redirect("citizencard:tickets", code)
    elif request.method == "POST":
        try:
            services.bind_ticket(request.resident, request.POST.get("ticket_type", ""))
        except services.CitizenCardError as exc:
            status, error = 400, exc.message
        else:
            messages.success(request, _("チケットをカードに結び付けました。入場口でカードをかざしてください。"))
            return redirect("citizencard:tickets", code)
    offered = services.TICKETS.key in services.enabled_keys()
    mine = list(services.tickets_of(request.resident))
    taken = {t.ticket_type_id for t in mine if t.status != t.Status.CANCELLED}
    open_types = [t for t in services.open_ticket_types() if t.pk not in taken] if offered else []
    return render(request, "citizencard/tickets.html", {"tickets": mine, "open_types": open_types,
                                                        "offered": offered, "error": error,
                                                        "today": today_in_japan()}, status=status)


# -- the signed terminal API: no session; each request is signed with the terminal's own key --

def _refused(exc: services.TerminalRefused) -> JsonResponse:
    return JsonResponse({"error": exc.code, "message": exc.message}, status=exc.status,
                        json_dumps_params={"ensure_ascii": False})


def _terminal(request, body: bytes):
    return services.authenticate(request.method, request.path, request.headers, body)


@public_view  # authenticated by the terminal's signature (services.authenticate), not a session
@never_cache
@require_GET
def terminal_lists(request, code):
    try:
        terminal = _terminal(request, b"")
    except services.TerminalRefused as exc:
        return _refused(exc)
    return JsonResponse(services.lists(terminal, request.headers.get(signing.HEADER_REVOKED_VERSION, "")))


@public_view  # authenticated by the terminal's signature (services.authenticate), not a session
@csrf_exempt
@never_cache
@require_POST
def terminal_events(request, code):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    try:
        if length < 0 or length > services.MAX_BODY:
            raise services.TerminalRefused(400, "malformed", _("送信データが大きすぎます（1回に1MBまで）。"))
        body = request.body
        terminal = _terminal(request, body)
        acknowledged = services.receive_events(terminal, body)
    except services.TerminalRefused as exc:
        return _refused(exc)
    return JsonResponse({"acknowledged": acknowledged})


@public_view  # authenticated by the terminal's signature (services.authenticate), not a session
@csrf_exempt
@never_cache
@require_POST
def terminal_seal(request, code):
    """The counter terminal asks whether the card read without a PIN may stand for the
    印鑑登録証: 200 with `ok`, `code`, `message` and the registration number (audited)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    try:
        if length < 0 or length > services.MAX_SEAL_BODY:
            raise services.TerminalRefused(400, "malformed", _("送信データが大きすぎます。"))
        body = request.body
        answer = services.seal_check_for_terminal(_terminal(request, body), body)
    except services.TerminalRefused as exc:
        return _refused(exc)
    return JsonResponse({"ok": answer.ok, "code": answer.code, "message": answer.message,
                         "registration_number": answer.registration_number},
                        json_dumps_params={"ensure_ascii": False})


@public_view  # opened by the terminal's kiosk browser without a session; no personal data
@never_cache
@require_safe
def kiosk(request, code, terminal):
    """The kiosk page of an active terminal: talks to the local agent on 127.0.0.1 (the port
    in `?agent=`), which reads the card and decides offline."""
    found = services.kiosk_terminal(terminal)
    if found is None:
        raise Http404
    return render_kiosk(request, "citizencard/kiosk.html", {"terminal": found})


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def seal(request, code):
    """The resident chooses (or stops) using their My Number Card as their 印鑑登録証."""
    status, error = 200, ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                services.revoke_seal_card(request.resident)
                done = _("マイナンバーカードを印鑑登録証として使う設定を取り消しました。")
            else:
                services.choose_seal_card(request.resident)
                done = _("マイナンバーカードを印鑑登録証として使えるようにしました。窓口ではカードを提示してください。")
        except services.CitizenCardError as exc:
            status, error = 400, exc.message
        else:
            messages.success(request, done)
            return redirect("citizencard:seal", code)
    return render(request, "citizencard/seal.html", {
        "offered": services.SEAL.key in services.enabled_keys(), "choice": services.seal_card_of(request.resident),
        "seal": services.seal_registration_of(request.resident), "error": error}, status=status)
