import logging
import time

from . import metrics
from .request_context import new_request_id, reset_request_id, set_request_id

request_log = logging.getLogger("madoguchi.request")


class RequestIdMiddleware:
    """Gives every request an id, returns it as X-Request-ID and logs one JSON line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self._log(request, response.status_code, started)
            match = getattr(request, "resolver_match", None)
            metrics.observe_request(request.method, (match.view_name if match else "") or "unmatched",
                                    response.status_code, time.perf_counter() - started)
            return response
        finally:
            reset_request_id(token)

    @staticmethod
    def _log(request, status: int, started: float) -> None:
        municipality = getattr(request, "municipality", None)
        # Only a user something already loaded: logging must not cost a session query.
        user = getattr(request, "_cached_user", None)
        request_log.info(
            "request",
            extra={
                "method": request.method,
                # The path only: query strings may carry personal data.
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "municipality": municipality.code if municipality else None,
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
