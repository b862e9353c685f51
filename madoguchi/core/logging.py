import logging

from .request_context import current_request_id


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or None) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs after the middleware has finished; its records carry the request.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or current_request_id()
        return True
