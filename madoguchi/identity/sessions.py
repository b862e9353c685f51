"""The resident's session: who is signed in, with which assurance, and its expiry.

Residents are not Django users (those are staff); their sign-in lives in the session
under these keys. Idle expiry: 30 minutes without a request; absolute: 8 hours after
sign-in. The session key is rotated at sign-in (no fixation).
"""

import time
from functools import wraps

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from .models import Person

KEY = "resident"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 3600


def sign_in(request, person: Person, municipality, assurance: str) -> None:
    request.session.cycle_key()
    now = int(time.time())
    request.session[KEY] = {"person": str(person.public_id), "municipality": municipality.pk,
                            "assurance": assurance, "since": now, "seen": now}


def sign_out(request) -> None:
    request.session.pop(KEY, None)
    request.session.cycle_key()


def current(request) -> tuple[Person, str] | None:
    """(person, assurance) when a resident is signed in to this request's municipality."""
    data = request.session.get(KEY)
    municipality = getattr(request, "municipality", None)
    if not data or municipality is None or data.get("municipality") != municipality.pk:
        return None
    now = int(time.time())
    if now - data.get("seen", 0) > IDLE_SECONDS or now - data.get("since", 0) > ABSOLUTE_SECONDS:
        request.session.pop(KEY, None)
        return None
    person = Person.objects.filter(public_id=data["person"]).first()
    if person is None:
        return None
    if now - data["seen"] > 60:  # keep session writes rare
        data["seen"] = now
        request.session.modified = True
    return person, data["assurance"]


def login_url(request, next_url: str | None = None) -> str:
    """The card sign-in page, to come back to `next_url` afterwards (validated there and
    again when the ceremony finishes: ceremonies.callers.safe_next)."""
    url = reverse("portal:card_login", args=[request.municipality.code])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def resident_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        signed_in = current(request)
        if signed_in is None:
            return redirect(login_url(request, request.get_full_path() if request.method == "GET" else None))
        request.resident, request.resident_assurance = signed_in
        return view(request, *args, **kwargs)

    return wrapped
