"""The ceremony JSON API (django-ninja; OpenAPI at /<code>/api/openapi.json).

The card client fetches and completes; the opener (a browser page of ours, or a service
using the API) opens and watches with its poll token. docs/ceremony.md is the reference.
"""

from ninja import NinjaAPI, Schema, Status
from django.http import Http404
from ninja.errors import HttpError, ValidationError

from madoguchi.core import jsontext
from madoguchi.core.ratelimit import allow_all, client_address

from . import callers, errors, services
from .callers import OpenOut
from .models import Ceremony

api = NinjaAPI(title="madoguchi ceremonies", version="1", urls_namespace="ceremony_api", docs_url=None,
               parser=jsontext.StrictJsonParser())

# Opening through the API: the purposes a visitor may start. `sign` is opened only by the
# server's own services (an application being submitted), never with a caller's document.
API_PURPOSES = {Ceremony.Purpose.LOGIN, Ceremony.Purpose.IDENTIFY, Ceremony.Purpose.PRESENCE}

LIMITS = {  # (scope, per-address limit, window seconds)
    "open": (20, 60),
    "fetch": (60, 60),
    "complete": (10, 60),
    "state": (120, 60),
}
PER_CEREMONY = {"fetch": 20, "complete": 5, "state": 400}


def throttle(request, action: str, ceremony_id: str | None = None) -> None:
    limit, window = LIMITS[action]
    limits = [(f"ceremony.{action}", client_address(request), limit, window)]
    if ceremony_id is not None:
        limits.append((f"ceremony.{action}.one", ceremony_id, PER_CEREMONY[action], 600))
    if not allow_all(limits):  # one statement (or cache round trips) for both
        raise errors.rate_limited()


@api.exception_handler(errors.CeremonyError)
def ceremony_error(request, exc: errors.CeremonyError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    fields = sorted({".".join(str(p) for p in e.get("loc", [])[1:]) for e in exc.errors})
    body = errors.malformed("invalid fields: " + ", ".join(f for f in fields if f)).as_dict()
    return api.create_response(request, body, status=400)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    # ninja's own refusals (an unparsable body) in our error shape.
    lone = jsontext.pointers_of(exc)
    detail = f"a lone surrogate (unpaired UTF-16 escape) at {', '.join(lone)}" if lone is not None else str(exc)
    return api.create_response(request, errors.malformed(detail).as_dict(), status=400)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, errors.not_found().as_dict(), status=404)


class OpenIn(Schema):
    purpose: str


class ErrorOut(Schema):
    code: str
    message: str
    message_en: str


class StateOut(Schema):
    status: str
    expires_at: str
    code: str | None = None


class CompleteIn(Schema):
    audience: str
    auth_certificate: str | None = None
    auth_signature: str | None = None
    sign_certificate: str | None = None
    sign_signature: str | None = None
    cms: str | None = None


class CompleteOut(Schema):
    status: str


@api.post("/ceremonies", response={201: OpenOut, 400: ErrorOut, 429: ErrorOut}, url_name="open")
def open_ceremony(request, body: OpenIn):
    throttle(request, "open")
    if body.purpose not in API_PURPOSES:
        raise errors.malformed(f"purpose must be one of {', '.join(sorted(API_PURPOSES))}")
    municipality = request.municipality
    opened = callers.open(body.purpose, municipality=municipality, reason=str(Ceremony.Purpose(body.purpose).label))
    return Status(201, callers.opened_json(request, opened))


@api.get("/ceremonies/{ceremony_id}", response={200: dict, 404: ErrorOut, 409: ErrorOut, 410: ErrorOut,
                                                 429: ErrorOut}, url_name="fetch")
def fetch(request, ceremony_id: str):
    throttle(request, "fetch", ceremony_id)
    return services.describe(services.find(ceremony_id))


@api.post("/ceremonies/{ceremony_id}/complete", response={200: CompleteOut, 400: ErrorOut, 403: ErrorOut,
                                                           404: ErrorOut, 409: ErrorOut, 410: ErrorOut,
                                                           429: ErrorOut, 503: ErrorOut}, url_name="complete")
def complete(request, ceremony_id: str, body: CompleteIn):
    throttle(request, "complete", ceremony_id)
    ceremony = services.complete(ceremony_id, body.dict())
    return {"status": ceremony.status}


@api.get("/ceremonies/{ceremony_id}/state", response={200: StateOut, 403: ErrorOut, 404: ErrorOut,
                                                       429: ErrorOut}, url_name="state")
def state(request, ceremony_id: str):
    throttle(request, "state", ceremony_id)
    return services.state(ceremony_id, request.headers.get("X-Poll-Token"))
