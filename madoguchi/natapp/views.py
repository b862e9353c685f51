"""The national-app card path's pages: off to the provider, back from it, and the
municipality's public keys (what the provider verifies client assertions with)."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from madoguchi.ceremonies.cardpaths import error_page
from madoguchi.ceremonies.errors import CeremonyError
from madoguchi.core.access import public_view
from madoguchi.core.ratelimit import allow, client_address
from madoguchi.ceremonies.errors import rate_limited

from . import keys, services


@public_view
@never_cache
@require_POST
def start(request, code, ceremony_id):
    if not allow("natapp.start", client_address(request), 20, 60):
        return error_page(request, rate_limited())
    try:
        return redirect(services.start(request, ceremony_id))
    except CeremonyError as exc:
        return error_page(request, exc)


@public_view
@never_cache
@require_GET
def callback(request, code):
    try:
        finished = services.finish(request)
    except CeremonyError as exc:
        return error_page(request, exc)
    if finished.error is not None:
        return redirect("ceremonies:wait", code, finished.ceremony_id)  # the failure and one action
    return redirect("ceremonies:finish", code, finished.ceremony_id)


@public_view
@require_GET
def jwks(request, code):
    response = JsonResponse(keys.public_jwks())
    response["Cache-Control"] = "public, max-age=60"
    return response
