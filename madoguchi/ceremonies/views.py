"""The browser side of a ceremony: open, wait on the card paths (cardpaths/), continue when done."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.audit.services import record
from madoguchi.core.access import public_view
from madoguchi.core.ratelimit import allow, client_address
from madoguchi.identity import sessions

from . import callers, errors, services
from .cardpaths import CARD_PATHS, enabled_paths, error_page, offered_paths
from .models import Ceremony

BROWSER_PURPOSES = {Ceremony.Purpose.LOGIN, Ceremony.Purpose.IDENTIFY}
SESSION_TOKENS = callers.SESSION_TOKENS
safe_next = callers.safe_next


def _token(request, public_id: str) -> str | None:
    return callers.session_entry(request, public_id)[0]


def _next(request, public_id: str) -> str | None:
    return callers.session_entry(request, public_id)[1]


@public_view
@require_POST
def start(request, code):
    purpose = request.POST.get("purpose", "")
    if purpose not in BROWSER_PURPOSES:
        return error_page(request, errors.malformed("purpose"))
    if not allow("ceremony.open", client_address(request), 20, 60):
        return error_page(request, errors.rate_limited())
    return callers.begin(request, purpose, next_url=request.POST.get("next"))


@public_view
@never_cache
@require_GET
def wait(request, code, ceremony_id):
    try:
        ceremony = services.find(ceremony_id)
        if _token(request, ceremony_id) is None:
            raise errors.forbidden()
    except errors.CeremonyError as exc:
        return error_page(request, exc)
    status = _status_context(request, ceremony_id)
    failed = status["status"] not in (Ceremony.Status.OPEN, Ceremony.Status.COMPLETED)
    # After a failure: the failure and one action, nothing else (no QR code, no card paths).
    offered = [] if failed else offered_paths(request, ceremony)
    card_paths = [
        {"name": entry.name, "template": entry.implementation.template, **entry.implementation.context(request, ceremony)}
        for entry in offered]
    response = render(request, "ceremonies/wait.html", {
        "ceremony": ceremony, "card_paths": card_paths, "path_names": [p["name"] for p in card_paths],
        "status": status, "failed": failed,
        "note": callers.note_of(request, ceremony_id), "retry_url": _retry_url(request, ceremony),
    })
    origins = sorted({o for entry in offered for o in entry.implementation.form_action_origins(request, ceremony)})
    if origins:
        response._csp_update = {"form-action": origins}
    return response


def _retry_url(request, ceremony) -> str:
    """The one action after a failure: sign again from the page that asked for the signature
    (its continuation sends the browser back to it), or sign in again and continue there."""
    next_url = _next(request, ceremony.public_id)
    if ceremony.purpose == Ceremony.Purpose.SIGN and next_url:
        return next_url
    return sessions.login_url(request, callers.continuation(request, next_url))


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
              "card_mismatch": errors.card_mismatch, "card_refused": errors.card_refused,
              "card_required": errors.card_required, "path_not_enabled": errors.path_not_enabled,
              "provider_refused": errors.provider_refused, "provider_unavailable": errors.provider_unavailable,
              "cancelled": errors.cancelled}
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
    elif context["status"] != Ceremony.Status.OPEN:
        response["HX-Refresh"] = "true"  # the waiting page again: the failure and one action only
    return response


@public_view
@never_cache
@require_GET
def finish(request, code, ceremony_id):
    try:
        ceremony = services.take_result(ceremony_id, _token(request, ceremony_id))
    except errors.CeremonyError as exc:
        return error_page(request, exc)
    continue_at = safe_next(request, _next(request, ceremony_id))
    if ceremony.purpose == Ceremony.Purpose.SIGN:
        callers.hand_over(request, ceremony_id, continue_at)  # the caller's page: callers.take_in_session
        return redirect(continue_at)
    if ceremony.purpose not in BROWSER_PURPOSES or ceremony.person is None:
        return error_page(request, errors.forbidden())  # presence never makes a session
    sessions.sign_in(request, ceremony.person, request.municipality, ceremony.purpose)
    record("resident.signed_in", actor=("resident", str(ceremony.person.public_id)), obj=ceremony,
           data={"assurance": ceremony.purpose})
    return redirect(continue_at)


@public_view
@never_cache
@require_POST
def answer(request, code, ceremony_id, path):
    """The POST of a card path that reads the card in the page (the demo's virtual card)."""
    if path not in CARD_PATHS or path not in enabled_paths(request.municipality):
        raise Http404
    return CARD_PATHS.get(path).answer(request, ceremony_id)
