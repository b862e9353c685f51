"""Log record filters installed on every handler (settings.LOGGING, and gunicorn's own
handlers through `madoguchi.core.gunicorn_logging`).

`PersonalDataFilter` is the rule that no log record carries a query string, a request
body or an individual number (docs/operations.md). Django's `django.request` logger passes
the request object with every 4xx/5xx (`extra={"request": request}`), and a JSON formatter
writes its repr, `<WSGIRequest: GET '/path?q=…'>`, query string included; a traceback's
last line repeats the exception's message, which may quote a value (PostgreSQL's DETAIL,
a KeyError); gunicorn's "Invalid request" warning quotes the raw request line. The filter
rewrites the record before any formatter sees it:

- `request` (in the extras or the message arguments) becomes `"METHOD /path"`: no query
  string, no headers, no body;
- the message is rendered once (`msg % args`) and the arguments dropped, so a formatter
  never renders an unscrubbed argument again;
- `exc_info` is rendered to text (Python's traceback: files, lines, source lines, the
  exception's type and message; never frame locals) and dropped, so no formatter renders
  it again; `stack_info` likewise;
- in every text that remains (message, traceback, stack, string extras and the strings
  inside list/dict extras): query strings after a path or URL are removed, and runs of
  twelve or more digits (half- or full-width, or grouped 4-4-4 by a space or hyphen, the
  shapes an individual number is written in) are replaced by a marker.

Numbers (int, float, bool, None) in the extras stay as they are: `status`, `duration_ms`.
"""

import logging
import re
import traceback

from .request_context import current_request_id

QUERY_REMOVED = "?[query removed]"
DIGITS_REMOVED = "[digits removed]"

# A digit: half-width, full-width, or a full-width one as Django's log_response escapes
# it (`\uff11`: it writes the path through unicode_escape).
_DIGIT = r"(?:[0-9\uff10-\uff19]|\\uff1[0-9])"
_SEPARATOR = "[ \\-\u3000\uff0d]"
# Twelve or more digits in a row, or grouped 4-4-4: the written forms of an individual
# number (tests/individual_numbers.py finds the same forms).
_DIGITS = re.compile(
    rf"(?<![0-9\uff10-\uff19])(?<!\\uff1[0-9]){_DIGIT}{{4}}{_SEPARATOR}{_DIGIT}{{4}}{_SEPARATOR}{_DIGIT}{{4}}(?!{_DIGIT})"
    rf"|{_DIGIT}{{12,}}"
)
# A path (or absolute URL) followed by a query string: everything from "?" to the next
# whitespace, quote or bracket goes (a raw request line ends its target at a space).
_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#'\"<>]*)?/[^\s?#'\"<>]*)\?[^\s'\"<>#]*")

# Attributes every LogRecord has; anything else on a record is an `extra`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id"}


def has_digit_run(text: str) -> bool:
    """True when `text` holds what could be an individual number (see `_DIGITS`)."""
    return bool(_DIGITS.search(text))


def scrub(text: str) -> str:
    """`text` without query strings and without twelve-digit runs."""
    return _DIGITS.sub(DIGITS_REMOVED, _QUERY.sub(r"\1" + QUERY_REMOVED, text))


def request_summary(request) -> str:
    """What a log may say about a request: its method and path, numbers masked."""
    method = getattr(request, "method", None) or "-"
    path = getattr(request, "path", None) or "-"
    return scrub(f"{method} {path}")


def _is_request(value) -> bool:
    from django.http import HttpRequest

    return isinstance(value, HttpRequest)


def _clean(value):
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub(value)
    if _is_request(value):
        return request_summary(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    return scrub(str(value))


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or None) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs after the middleware has finished; its records carry the request.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or current_request_id()
        return True


class PersonalDataFilter(RequestIdFilter):
    """Removes query strings, bodies and individual numbers from a record (module docstring).
    Idempotent: several handlers may run it on the same record."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)  # the request id first: it is read from the request
        if isinstance(record.msg, dict) and not record.args:
            record.msg = _clean(record.msg)  # a structured message stays structured
        else:
            if isinstance(record.args, tuple):
                record.args = tuple(request_summary(a) if _is_request(a) else a for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: request_summary(a) if _is_request(a) else a for k, a in record.args.items()}
            try:
                message = record.getMessage()
            except Exception:  # a malformed call must not lose the record, nor leak its arguments
                message = f"{record.msg} (arguments dropped: they did not match the message)"
            record.msg = scrub(str(message))
        record.args = ()
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = text
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD:
                setattr(record, name, _clean(value))
        return True
