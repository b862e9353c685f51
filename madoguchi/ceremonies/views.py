"""The browser side of a ceremony: open, wait with a QR code, continue when done."""

import segno
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.audit.services import record
from madoguchi.core.access import public_view
from madoguchi.core.ratelimit import allow, client_address
from madoguchi.identity import sessions

from . import callers, errors, services
from .models import Ceremony

BROWSER_PURPOSES = {Ceremony.Purpose.LOGIN, Ceremony.Purpose.IDENTIFY}
SESSION_TOKENS = callers.SESSION_TOKENS
begin = callers.begin  # oidc's until it calls ceremonies.callers.begin itself
safe_next = callers.safe_next


def _token(request, public_id: str) -> str | None:
    return callers.session_entry(request, public_id)[0]


def _next(request, public_id: str) -> str | None:
    return callers.session_entry(request, public_id)[1]


def _error_page(request, exc: errors.CeremonyError):
    return render(request, "ceremonies/error.html", {"error": exc}, status=exc.status)


@public_view
@require_POST
def start(request, code):
    purpose = request.POST.get("purpose", "")
    if purpose not in BROWSER_PURPOSES:
        return _error_page(request, errors.malformed("purpose"))
    if not allow("ceremony.open", client_address(request), 20, 60):
        return _error_page(request, errors.rate_limited())
    return begin(request, purpose, next_url=request.POST.get("next"))


@public_view
@never_cache
@require_GET
def wait(request, code, ceremony_id):
    try:
        ceremony = services.find(ceremony_id)
        if _token(request, ceremony_id) is None:
            raise errors.forbidden()
    except errors.CeremonyError as exc:
        return _error_page(request, exc)
    client_url, _ = callers.urls_for(request, ceremony.municipality.code, ceremony.public_id)
    qr = segno.make(client_url, error="m").svg_data_uri(scale=5, border=2, dark="#1a1a1a")
    return render(request, "ceremonies/wait.html", {
        "ceremony": ceremony, "client_url": client_url, "qr": qr, "demo_cards": demo_cards(),
        "status": _status_context(request, ceremony_id),
    })


def _status_context(request, ceremony_id: str) -> dict:
    try:
        state = services.state(ceremony_id, _token(request, ceremony_id))
    except errors.CeremonyError as exc:
        return {"status": "error", "error": exc}
    error = None
    if state.get("code"):
        error = _known_error(state["code"])
    return {"status": state["status"], "error": error}


def _known_error(code: str) -> errors.CeremonyError:
    from madoguchi.pki.validation import Verdict

    for verdict, (known, _) in errors.VERDICT_CODES.items():
        if known == code:
            return errors.from_verdict(verdict)
    makers = {"expired": errors.expired, "wrong_audience": errors.wrong_audience,
              "wrong_ceremony": errors.wrong_ceremony, "unknown_card": errors.unknown_card,
              "malformed": errors.malformed, "rate_limited": errors.rate_limited,
              "card_mismatch": errors.card_mismatch, "card_refused": errors.card_refused}
    return makers.get(code, errors.malformed)()


@public_view
@never_cache
@require_GET
def status(request, code, ceremony_id):
    """The polled fragment; on completion it tells htmx to continue to `finish`."""
    if not allow("ceremony.state", client_address(request), 120, 60):
        return render(request, "ceremonies/_status.html", {"status": "error", "error": errors.rate_limited()},
                      status=429)
    context = _status_context(request, ceremony_id)
    response = render(request, "ceremonies/_status.html", {**context, "code": code, "ceremony_id": ceremony_id})
    if context["status"] == Ceremony.Status.COMPLETED:
        response["HX-Redirect"] = reverse("ceremonies:finish", args=[code, ceremony_id])
    return response


@public_view
@never_cache
@require_GET
def finish(request, code, ceremony_id):
    try:
        ceremony = services.find(ceremony_id)
        if ceremony.purpose == Ceremony.Purpose.SIGN:
            # The caller's page takes the result (callers.take_in_session): checked, not taken.
            services.check_takeable(ceremony_id, _token(request, ceremony_id))
        else:
            ceremony = services.take_result(ceremony_id, _token(request, ceremony_id))
    except errors.CeremonyError as exc:
        return _error_page(request, exc)
    continue_at = safe_next(request, _next(request, ceremony_id))
    if ceremony.purpose == Ceremony.Purpose.SIGN:
        return redirect(continue_at)
    if ceremony.purpose not in BROWSER_PURPOSES or ceremony.person is None:
        return _error_page(request, errors.forbidden())  # presence never makes a session
    sessions.sign_in(request, ceremony.person, request.municipality, ceremony.purpose)
    record("resident.signed_in", actor=("resident", str(ceremony.person.public_id)), obj=ceremony,
           data={"assurance": ceremony.purpose})
    return redirect(continue_at)


def demo_cards() -> list[str]:
    """The virtual cards `madoguchi demo` issued into the data directory."""
    from django.conf import settings

    directory = settings.DATA_DIR / "cards"
    if not getattr(settings, "DEMO_ALLOWED", False) or not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if (p / "card.json").is_file())


@public_view
@never_cache
@require_POST
def virtual_card(request, code, ceremony_id):
    """Demo profile only: read one of the demo's virtual cards on this computer, with the PIN
    typed into the page — the same card client a phone or `madoguchi card ceremony` runs."""
    from django.conf import settings
    from django.contrib import messages
    from django.utils.translation import gettext as _

    from madoguchi.card import apdu
    from madoguchi.card.ceremony_client import CeremonyRefused, Secrets, answer
    from madoguchi.card.jpki import InvalidPinFormat, JpkiAP
    from madoguchi.card.transport import Channel, VirtualTransport
    from madoguchi.card.virtual import VirtualCard

    if not getattr(settings, "DEMO_ALLOWED", False):
        return _error_page(request, errors.forbidden())
    name = request.POST.get("card", "")
    if name not in demo_cards():
        messages.error(request, _("デモ用カードを選んでください。"))
        return redirect("ceremonies:wait", code, ceremony_id)
    try:
        ceremony = services.find(ceremony_id)
        if _token(request, ceremony_id) is None:
            raise errors.forbidden()
        description = services.describe(ceremony)
    except errors.CeremonyError as exc:
        return _error_page(request, exc)
    card = JpkiAP(Channel(VirtualTransport(VirtualCard(settings.DATA_DIR / "cards" / name))))
    secrets = Secrets(pin=lambda: request.POST.get("pin", ""), password=lambda: request.POST.get("password", ""))
    try:
        body = answer(description, card, secrets)
    except InvalidPinFormat as exc:
        messages.error(request, _("暗証番号の形式が正しくありません: %(detail)s") % {"detail": exc})
    except apdu.WrongPin as exc:
        messages.error(request, _("暗証番号が違います（あと%(tries)d回間違えるとロックされます）。") % {"tries": exc.tries_left})
    except apdu.PinBlocked:
        messages.error(request, _("暗証番号がロックされています。お住まいの市区町村の窓口でロックの解除を受けてください。"))
    except (apdu.CardError, CeremonyRefused) as exc:
        messages.error(request, _("カードを読み取れませんでした: %(detail)s") % {"detail": exc})
    else:
        try:
            services.complete(ceremony_id, body)
        except errors.CeremonyError:
            pass  # the waiting page shows the ceremony's failure
    return redirect("ceremonies:wait", code, ceremony_id)
