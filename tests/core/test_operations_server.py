"""/readyz, /metrics and the graceful stop against a real server (`madoguchi serve`: gunicorn
through madoguchi/core/serving.py): a SIGTERM during a slow request drains, then finishes the
request before the process exits."""

import json
import re
import signal
import socket
import sqlite3
import time
import urllib.error
import urllib.request

import pytest

from tests.server import fresh_database_url, start


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def municipality_code(server) -> str:
    return re.search(r"resident portal: http://[^/]+/(\d{6})/", server.demo_output).group(1)


@pytest.fixture
def server_db(tmp_path):
    url, drop = fresh_database_url("ops")
    yield url
    drop()


def test_readyz_follows_the_migrations_and_metrics_sum_every_worker(tmp_path, server_db):
    sqlite_path = tmp_path / "ops.sqlite3"
    database_url = server_db or f"sqlite:///{sqlite_path}"
    token = "t" * 40
    server = start(tmp_path, database_url, workers=2, MADOGUCHI_METRICS_TOKEN=token)
    try:
        status, body = get(server.base_url + "/readyz")
        assert status == 200, body
        assert json.loads(body) == {"status": "ready", "checks": {"draining": False, "database": "up",
                                                                   "migrations": "applied"}}
        # A migration this code ships is not applied (an upgrade's server started before
        # `madoguchi migrate`): not ready, and the answer says which.
        forget = "DELETE FROM django_migrations WHERE app = 'audit' AND name = '0003_checkpoint_mark'"
        restore = ("INSERT INTO django_migrations (app, name, applied) VALUES "
                   "('audit', '0003_checkpoint_mark', CURRENT_TIMESTAMP)")
        run_sql(database_url, forget)
        try:
            status, body = get(server.base_url + "/readyz")
            assert status == 503
            answer = json.loads(body)
            assert answer["status"] == "unavailable"
            assert answer["reason"] == "1 migration(s) not applied (first: audit.0003_checkpoint_mark; run madoguchi migrate)"
            assert answer["checks"]["migrations"] == "pending"
            status, _ = get(server.base_url + "/healthz")
            assert status == 200  # the database itself answers
        finally:
            run_sql(database_url, restore)
        assert get(server.base_url + "/readyz")[0] == 200

        # Requests spread over both workers; /metrics adds up every worker's files.
        before = livez_count(server)
        for _ in range(30):
            assert get(server.base_url + "/livez")[0] == 200
        assert livez_count(server) == before + 30
        status, text = get(server.base_url + "/metrics")
        text = text.decode()
        assert re.search(r'^madoguchi_task_queue_depth\{queue="default"\} \d', text, re.M)
        assert re.search(r'^madoguchi_notice_deliveries\{channel="email",state="failed"\} \d', text, re.M)
        # From loopback without the token it answers (the default); the token works too. A
        # wrong token from loopback still answers (loopback is enough); see the in-process
        # tests for a remote address.
        assert get(server.base_url + "/metrics", {"Authorization": f"Bearer {token}"})[0] == 200
    finally:
        server.stop()
    # The server removed the run directory it made (metrics files, drain mark).
    assert "Traceback" not in open(server.log_path).read()


def livez_count(server) -> float:
    status, text = get(server.base_url + "/metrics")
    assert status == 200
    count = re.search(r'^madoguchi_request_duration_seconds_count\{method="GET",status="2xx",view="livez"\} (\S+)$',
                      text.decode(), re.M)
    return float(count.group(1)) if count else 0.0


def run_sql(database_url: str, sql: str) -> None:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql)


def test_sigterm_drains_then_finishes_the_request_in_flight(tmp_path, server_db):
    database_url = server_db or f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    run_dir = tmp_path / "run"
    server = start(tmp_path, database_url, workers=1, MADOGUCHI_DRAIN_SECONDS="2",
                   MADOGUCHI_GRACEFUL_SECONDS="15", MADOGUCHI_RUN_DIR=str(run_dir))
    code = municipality_code(server)
    port = int(server.base_url.rsplit(":", 1)[1])
    try:
        assert list((run_dir / "metrics").glob("*.db"))  # the worker's metrics files
        assert not (run_dir / "draining").exists()
        # A slow client: the card client's answer arrives in two parts, the second after the
        # SIGTERM. The view cannot answer before it has the whole body.
        body = json.dumps({"certificate": "A" * 4000, "signature": "B" * 4000}).encode()
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        slow.sendall((f"POST /{code}/api/ceremonies/{'x' * 43}/complete HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                      ).encode() + body[:100])
        time.sleep(0.5)  # the worker has the request and waits for the rest of the body
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)

        # Draining: still answering, and /readyz says 503 so the balancer stops sending.
        time.sleep(0.3)
        status, answer = get(server.base_url + "/readyz")
        assert status == 503
        assert json.loads(answer) == {"status": "draining", "reason": "draining: the server is stopping",
                                      "checks": {"draining": True}}
        assert get(server.base_url + "/livez")[0] == 200

        # After the drain the listening socket is closed: a new connection is refused…
        refused = False
        while time.monotonic() - started < 8:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except ConnectionRefusedError:
                refused = True
                break
            time.sleep(0.1)
        assert refused, "the server kept accepting after its drain"
        assert time.monotonic() - started >= 1.5  # …not before the drain period
        assert server.process.poll() is None  # …while the request in flight keeps it running

        # …and the slow request still gets its whole answer.
        slow.sendall(body[100:])
        response = b""
        while chunk := slow.recv(65536):
            response += chunk
        slow.close()
        head, _, payload = response.partition(b"\r\n\r\n")
        # The view parsed the whole body and answered: it names a field the card client's
        # answer lacks (the body is the test's, not a card's).
        assert head.startswith(b"HTTP/1.1 400 "), head
        answer = json.loads(payload)
        assert answer["code"] == "malformed" and "body.audience" in answer["message_en"]
        assert server.process.wait(timeout=15) == 0
    finally:
        server.stop()
    log = open(server.log_path).read()
    assert "Traceback" not in log
    assert (run_dir / "draining").exists()  # the next start removes it
