import logging

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .access import public_view
from .health import check_database, check_ready

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
def readyz(request):
    """200 when this process should get traffic; 503 naming each reason otherwise
    (core.health.check_ready): the load balancer's check."""
    problems = check_ready()
    if problems:
        return JsonResponse({"status": "not ready", **problems}, status=503)
    return JsonResponse({"status": "ready"})


@public_view
@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format (core/metrics.py); from this machine or with the token."""
    from django.http import HttpResponse

    from . import metrics

    if not metrics.allowed(request):
        return JsonResponse({"error": "metrics are served to this machine or with MADOGUCHI_METRICS_TOKEN"},
                            status=403)
    return HttpResponse(metrics.scrape(), content_type="text/plain; version=0.0.4; charset=utf-8")


@public_view
@never_cache
@require_GET
def livez(request):
    """The process answers; touches nothing else (also the benchmark's baseline)."""
    return JsonResponse({"status": "ok"})


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
