import hmac
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .access import public_view
from . import metrics as metrics_module
from . import readiness
from .health import check_database

log = logging.getLogger(__name__)


@public_view
@never_cache
@require_GET
def healthz(request):
    """200 when the configured database answers, 503 naming the reason otherwise (core/health.py)."""
    reason = check_database()
    if reason:
        log.error("health check: %s", reason)
        return JsonResponse({"status": "unavailable", "database": "down", "reason": reason}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})


@public_view
@never_cache
@require_GET
def livez(request):
    """The process answers; touches nothing else (also the benchmark's baseline)."""
    return JsonResponse({"status": "ok"})


@public_view
@never_cache
@require_GET
def readyz(request):
    """200 when a load balancer may send this server traffic; 503 naming the reason while it
    drains (after a SIGTERM), or its database, migrations, cache or Redis are not ready
    (core/readiness.py)."""
    checks, reason = readiness.check()
    if reason:
        if not checks.get("draining"):
            log.error("readiness check: %s", reason)
        return JsonResponse({"status": "draining" if checks.get("draining") else "unavailable", "reason": reason,
                             "checks": checks}, status=503)
    return JsonResponse({"status": "ready", "checks": checks})


def _metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True
    return settings.METRICS_ALLOW_LOOPBACK and metrics_module.is_loopback(request.META.get("REMOTE_ADDR", ""))


@public_view  # its own check: a loopback address or the metrics token (no tenant data in it)
@never_cache
@require_GET
def metrics(request):
    """Prometheus text format (core/metrics.py): to a loopback address or with the token."""
    if not _metrics_allowed(request):
        response = HttpResponse("metrics: from a loopback address or with Authorization: Bearer "
                                "<MADOGUCHI_METRICS_TOKEN>\n", status=403, content_type="text/plain; charset=utf-8")
        return response
    return HttpResponse(metrics_module.exposition(), content_type=metrics_module.CONTENT_TYPE_LATEST)


def bad_request(request, exception=None):
    from django.conf import settings
    from django.core.exceptions import RequestDataTooBig

    if isinstance(exception, RequestDataTooBig):
        # A form post over DATA_UPLOAD_MAX_MEMORY_SIZE (a pasted 10 MB text): say so.
        return render(request, "413.html", {"limit_mb": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)},
                      status=413)
    return render(request, "400.html", status=400)


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No template context processors that could fail again: a plain render.
    return render(request, "500.html", status=500)


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", status=403)
