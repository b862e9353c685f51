"""The personal-data log filter (madoguchi/core/logging.py) record by record; the real
server's log is scanned in tests/core/test_logging_server.py."""

import json
import logging
import sys

from django.conf import settings
from django.test import RequestFactory
from pythonjsonlogger.json import JsonFormatter

from madoguchi.core.logging import DIGITS_REMOVED, QUERY_REMOVED, PersonalDataFilter, scrub
from tests.applications.helpers import as_typed, synthetic_number
from tests.individual_numbers import numbers_in

NUMBER = synthetic_number(114)


def formatted(record: logging.LogRecord) -> str:
    """The record as the configured handler writes it: its filters, then its formatter."""
    assert PersonalDataFilter().filter(record)
    fmt = settings.LOGGING["formatters"]["json"]
    return JsonFormatter(fmt["fmt"], rename_fields=fmt["rename_fields"]).format(record)


def record(msg, *args, exc_info=None, **extra) -> logging.LogRecord:
    r = logging.LogRecord("django.request", logging.WARNING, __file__, 1, msg, args, exc_info)
    r.__dict__.update(extra)
    return r


def test_every_configured_handler_has_the_filter():
    assert settings.LOGGING["handlers"]
    for name, handler in settings.LOGGING["handlers"].items():
        assert "personal_data" in handler.get("filters", []), name
    for handler in logging.getLogger().handlers:
        if handler.__class__.__module__.startswith("_pytest"):
            continue  # pytest's capture handlers
        assert any(isinstance(f, PersonalDataFilter) for f in handler.filters), handler


def test_djangos_request_extra_becomes_method_and_path():
    request = RequestFactory().get(f"/139998/nowhere/?q={NUMBER}")
    line = json.loads(formatted(record("Not Found: %s", request.path, status_code=404, request=request)))
    assert line["request"] == "GET /139998/nowhere/"
    assert line["status_code"] == 404 and line["message"] == "Not Found: /139998/nowhere/"
    assert NUMBER not in json.dumps(line)


def test_a_request_as_a_message_argument_is_summarised_too():
    request = RequestFactory().post(f"/x/?token={NUMBER}", data={"mynumber": NUMBER})
    line = json.loads(formatted(record("failed for %r", request)))
    assert line["message"] == "failed for 'POST /x/'"


def test_query_strings_are_removed_from_messages_and_urls():
    assert scrub("GET /a/b?q=1&x=2 HTTP/1.1") == f"GET /a/b{QUERY_REMOVED} HTTP/1.1"
    assert scrub("redirect to https://rp.example/cb?code=abc#f") == f"redirect to https://rp.example/cb{QUERY_REMOVED}#f"
    assert scrub("'GET /a?q=x'") == f"'GET /a{QUERY_REMOVED}'"
    assert scrub("本当ですか?") == "本当ですか?"  # a question mark after no path stays


def test_individual_numbers_are_masked_in_every_written_form():
    for text in (NUMBER, as_typed(NUMBER), f"{NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}", f"x99{NUMBER}77"):
        assert numbers_in(scrub(f"value {text} end"), {NUMBER}) == set(), text
        assert DIGITS_REMOVED in scrub(text)
    # Django's log_response writes a path's full-width digits escaped: masked too.
    escaped = as_typed(NUMBER).replace(" ", "").encode("unicode_escape").decode("ascii")
    assert scrub(f"Not Found: /x/{escaped}/") == f"Not Found: /x/{DIGITS_REMOVED}/"
    # Shorter runs (municipality codes, ids, durations) stay.
    assert scrub("139998 id=12345678901 1.25 ms") == "139998 id=12345678901 1.25 ms"


def test_a_traceback_is_rendered_scrubbed_and_exc_info_dropped():
    try:
        {}[NUMBER]
    except KeyError:
        r = record("Internal Server Error: %s", "/x/", exc_info=sys.exc_info())
    line = json.loads(formatted(r))
    assert r.exc_info is None and "Traceback" in line["exc_info"] and "KeyError" in line["exc_info"]
    assert NUMBER not in json.dumps(line) and DIGITS_REMOVED in line["exc_info"]


def test_sql_extras_and_nested_values_are_scrubbed_numbers_kept():
    r = record("(%.3f) %s; args=%s", 0.001, "SELECT 1 WHERE q LIKE %s", (f"%{NUMBER}%",),
               sql=f"SELECT 1 WHERE q LIKE '%{NUMBER}%'", params=(f"%{NUMBER}%",), duration=0.001,
               data={"note": as_typed(NUMBER), "n": 3})
    line = json.loads(formatted(r))
    assert NUMBER not in json.dumps(line, ensure_ascii=False)
    assert numbers_in(json.dumps(line, ensure_ascii=False), {NUMBER}) == set()
    assert line["duration"] == 0.001 and line["data"]["n"] == 3


def test_the_filter_is_idempotent_and_survives_bad_arguments():
    r = record("two %s %s", NUMBER)  # one argument for two placeholders
    f = PersonalDataFilter()
    assert f.filter(r) and f.filter(r)
    assert NUMBER not in r.getMessage() and "arguments dropped" in r.getMessage()
    structured = record({"event": "x", "value": NUMBER})
    assert f.filter(structured) and structured.msg == {"event": "x", "value": DIGITS_REMOVED}


def test_an_incoming_request_id_holding_a_number_is_replaced(client, db):
    for hostile in (NUMBER, f"lb-{NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}"):
        answered = client.get("/livez", HTTP_X_REQUEST_ID=hostile)["X-Request-ID"]
        assert numbers_in(answered, {NUMBER}) == set() and len(answered) == 32


def test_gunicorns_handlers_get_the_filter():
    from gunicorn.config import Config

    from madoguchi.core.gunicorn_logging import Logger

    cfg = Config()
    cfg.set("errorlog", "-")
    logger = Logger(cfg)
    assert logger.error_log.handlers
    for handler in logger.error_log.handlers:
        assert any(isinstance(f, PersonalDataFilter) for f in handler.filters)
