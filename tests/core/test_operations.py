import json
import logging

import pytest


def test_healthz_answers_when_the_database_does(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


def test_every_response_carries_a_request_id(client, db):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


def test_a_plain_incoming_request_id_is_kept_and_a_hostile_one_replaced(client, db):
    assert client.get("/livez", HTTP_X_REQUEST_ID="lb-0123456789")["X-Request-ID"] == "lb-0123456789"
    hostile = client.get("/livez", HTTP_X_REQUEST_ID='x"\n{"level":"CRITICAL"}')["X-Request-ID"]
    assert hostile != 'x"\n{"level":"CRITICAL"}' and hostile.isalnum()


def test_request_log_is_json_with_the_request_id(client, db, caplog):
    from madoguchi.core.logging import RequestIdFilter
    from pythonjsonlogger.json import JsonFormatter

    with caplog.at_level(logging.INFO, logger="madoguchi.request"):
        response = client.get("/livez?secret=should-not-be-logged")
    records = [r for r in caplog.records if r.name == "madoguchi.request"]
    assert records, "no request log line"
    record = records[-1]
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter("%(message)s %(request_id)s").format(record))
    assert line["request_id"] == response["X-Request-ID"]
    assert line["path"] == "/livez" and line["status"] == 200
    assert "should-not-be-logged" not in json.dumps(line)


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_cookies_are_secure_httponly_samesite(client, muni_a):
    response = client.get(f"/{muni_a.code}/staff/login/")
    cookie = response.cookies["madoguchi_csrf"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


def test_there_is_no_public_media_url(settings):
    assert not settings.MEDIA_URL or settings.MEDIA_URL == "/"
    from django.urls import Resolver404, resolve

    with pytest.raises(Resolver404):
        resolve("/media/anything.pdf")


def test_oversized_request_is_refused(client, muni_a):
    response = client.post(f"/{muni_a.code}/staff/login/", {"username": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413  # what is wrong and what to do, in both languages
    assert "送信された内容が大きすぎます" in response.content.decode() and "Up to 2 MB" in response.content.decode()


def test_readyz_names_what_keeps_the_process_from_traffic(client, db, settings, tmp_path):
    import socket

    settings.DATA_DIR = tmp_path
    assert client.get("/readyz").json() == {"status": "ready"}
    (tmp_path / "drain").touch()  # an operator drains the node before stopping it
    draining = client.get("/readyz")
    assert draining.status_code == 503 and "draining" in draining.json()["drain"]
    assert client.get("/livez").status_code == 200  # alive while drained
    (tmp_path / "drain").unlink()
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    down = client.get("/readyz")
    assert down.status_code == 503 and down.json()["redis"].startswith("unavailable")
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    assert client.get("/readyz").status_code == 200
    assert client.post("/readyz").status_code == 405


def test_metrics_count_requests_and_committed_events_for_this_machine_only(client, db, settings, muni_a,
                                                                          django_capture_on_commit_callbacks):
    from django.db import transaction

    from madoguchi.audit.services import record
    from madoguchi.municipalities.tenancy import tenant

    client.get("/livez")
    with tenant(muni_a):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            record("staff.signed_in")
        try:
            with transaction.atomic():
                record("staff.signed_out")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    page = client.get("/metrics")  # the test client is 127.0.0.1
    text = page.content.decode()
    assert page.status_code == 200 and page["Content-Type"].startswith("text/plain")
    assert 'madoguchi_http_request_duration_seconds_count{method="GET",status="2xx",view="livez"}' in text
    assert 'madoguchi_events_total{action="staff.signed_in"}' in text
    assert 'action="staff.signed_out"' not in text  # a rolled-back change counts nothing
    assert "madoguchi_tasks_waiting" in text and "madoguchi_deliveries" in text
    assert "/livez" not in text  # routes by name, never paths (they carry ids)
    outside = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert outside.status_code == 403 and "MADOGUCHI_METRICS_TOKEN" in outside.json()["error"]
    settings.METRICS_TOKEN = "s3cret-token-for-prometheus"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9",
                      HTTP_AUTHORIZATION="Bearer s3cret-token-for-prometheus").status_code == 200
