"""No individual number reaches the server log (issue 13, finding 5), on a real server.

A demo individual number goes through every kind of entry point that answers 4xx (and a
500), in a query string, a body, a header, a raw request line; the log of a real
`madoguchi serve` (gunicorn) at DEBUG, INFO and WARNING is then scanned for the number in
every written form (tests/individual_numbers.py). Django's `django.request` logger writes
a record for each of these answers with the request attached, and gunicorn writes its own
for a malformed request line: both carried the query string before the log filter.
"""

import http.client
import json
import re
import secrets
import socket
from urllib.parse import quote, urlencode

import pytest

from bench.application_submit import API, CODE, Resident
from bench.oidc_token import Browser
from madoguchi.demo.services import DEMO_PASSWORD
from tests.applications.helpers import as_typed, synthetic_number
from tests.individual_numbers import numbers_in, scan_files
from tests.server import fresh_database_url, madoguchi, server_env, start, totp_code

NUMBER = synthetic_number(113)
GROUPED = f"{NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}"
WIDE = as_typed(NUMBER)  # full-width digits in groups of four


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One migrated database with the demo, shared by the servers of every log level."""
    url, drop = fresh_database_url("logging")
    data_dir = tmp_path_factory.mktemp("logging-server")
    env = server_env(data_dir, url)
    madoguchi(env, "migrate")
    demo = madoguchi(env, "demo", "--base-url", "http://127.0.0.1:8000")
    secret = re.search(r"otpauth://totp/madoguchi%3Ademo-admin\?secret=([A-Z2-7]+)", demo).group(1)
    yield data_dir, url, secret
    drop()


STAFF_COOKIES: dict[str, str] = {}  # one sign-in for every level: a TOTP code is accepted once


def staff_session(server, secret) -> Browser:
    browser = Browser(int(server.base_url.rsplit(":", 1)[1]))
    if STAFF_COOKIES:
        browser.cookies.update(STAFF_COOKIES)
        return browser
    _, _, page = browser.request("GET", f"/{CODE}/staff/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    status, location, page = browser.request(
        "POST", f"/{CODE}/staff/login/",
        body=urlencode({"csrfmiddlewaretoken": token, "username": "demo-admin", "password": DEMO_PASSWORD,
                        "otp_token": totp_code(secret)}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": server.base_url + "/"})
    assert status == 302, (status, page[:500])
    STAFF_COOKIES.update(browser.cookies)
    return browser


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def send_the_number_everywhere(server, prepared) -> list[str]:
    """Each request carries the number and answers 4xx; returns the paths asked."""
    data_dir, _, secret = prepared
    port = int(server.base_url.rsplit(":", 1)[1])
    answers = {}

    def get(path, headers=None, browser=None):
        status, _, _ = (browser or Browser(port)).request("GET", path, headers=headers)
        answers[path.split("?", 1)[0]] = status
        return status

    # A 404 with the number in the query string, plain, grouped and full-width; and with
    # it as the client's X-Request-ID (which would be logged and audited as it is).
    assert get(f"/{CODE}/nowhere/?q={NUMBER}&g={GROUPED}&w={quote(WIDE)}",
               headers={"X-Request-ID": NUMBER}) == 404
    # The number (full-width, as a phone types it) in a path: Django's 404 record escapes it.
    status, _, _ = Browser(port).request("GET", f"/{CODE}/nowhere/{quote(WIDE.replace(' ', ''))}/")
    assert status == 404
    # The staff inbox's search with an invalid date beside it: 400.
    staff = staff_session(server, secret)
    assert get(f"/{CODE}/staff/applications/?" + urlencode({"q": NUMBER, "date_from": "x" + NUMBER}),
               browser=staff) == 400
    # The public API's catalog search, too long: 4xx.
    assert 400 <= get(f"{API}/procedures?" + urlencode({"q": NUMBER + "x" * 100})) < 500
    # The OpenID Connect authorize endpoint with the number in its parameters: an unknown client.
    assert 400 <= get(f"/{CODE}/oidc/authorize?" + urlencode({
        "response_type": "code", "client_id": NUMBER, "redirect_uri": "http://127.0.0.1:9/cb",
        "scope": "openid", "login_hint": NUMBER, "state": GROUPED})) < 500
    # The ceremony API: a status poll of an unknown ceremony with the number as its token,
    # and an opening whose body holds it.
    assert 400 <= get(f"/{CODE}/api/ceremonies/{secrets.token_urlsafe(16)}?poll_token={NUMBER}") < 500
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", f"/{CODE}/api/ceremonies?note={NUMBER}",
                 body=json.dumps({"purpose": NUMBER, "audience": GROUPED}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert 400 <= response.status < 500, response.status
    # The applications API, signed in with a bearer token: a draft whose body holds the
    # number where it does not belong (400), and a query string on an unknown draft (404).
    resident = Resident(port, server.env, str(data_dir))
    status, body = resident.call("POST", f"{API}/drafts?mynumber={NUMBER}",
                                 {"procedure": "juminhyo-copy", "data": {"applicant_name": NUMBER, "copies": WIDE}})
    assert status == 400, body
    status, body = resident.call("GET", f"{API}/drafts/{NUMBER}?q={NUMBER}")
    assert 400 <= status < 500, body
    # A request line gunicorn itself refuses (400: a control character in the target); its
    # warning quotes the whole line.
    answer = raw_request(port, f"GET /{CODE}/?q={NUMBER}\x7f HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    return list(answers)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_no_individual_number_in_the_server_log(prepared, tmp_path, level):
    data_dir, url, _ = prepared
    log_path = str(tmp_path / f"server-{level}.log")
    server = start(data_dir, url, prepare=False, log_path=log_path, MADOGUCHI_LOG_LEVEL=level,
                   MADOGUCHI_SECURE_COOKIES="false")
    try:
        paths = send_the_number_everywhere(server, prepared)
    finally:
        server.stop()
    # A server whose database is down answers 500 for a page; its log has the traceback.
    down_log = str(tmp_path / f"server-down-{level}.log")
    down = start(tmp_path / "down", "postgresql://nobody@127.0.0.1:1/none", prepare=False, log_path=down_log,
                 MADOGUCHI_LOG_LEVEL=level)
    try:
        status, _, _ = Browser(int(down.base_url.rsplit(":", 1)[1])).request(
            "GET", f"/{CODE}/procedures/?q={NUMBER}")
        assert status == 500
    finally:
        down.stop()

    text = open(log_path, encoding="utf-8").read()
    down_text = open(down_log, encoding="utf-8").read()
    # The log was written: every 4xx is logged by django.request, the malformed line by gunicorn.
    for path in paths:
        assert path in text, (path, text[-3000:])
    assert "Invalid HTTP request line" in text
    assert "Internal Server Error" in down_text and "Traceback" in down_text
    assert numbers_in(text + down_text, {NUMBER}) == set()
    assert scan_files([log_path, down_log], {NUMBER}) == []
    assert "?q=" not in text + down_text and "poll_token=" not in text
    assert "\\\\uff1" not in text  # nor full-width digits as Django escapes them (JSON doubles the backslash)
    # Authlib's DEBUG records print the tokens it issues: its logger stops at INFO.
    assert "refresh_token" not in text
