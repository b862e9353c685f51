"""A server killed in the middle of a signed submission (issue 24, found by tests/topology):
the submission's transaction is held at the 受付番号 counter by a lock this test takes, the
server is SIGKILLed there, and the client's retry with the same Idempotency-Key on a new server
submits the application — once. Before, the `sign` ceremony was consumed in a transaction of
its own before the submission's, so the retry was refused as "already used" and the resident
had to sign again."""

import http.client
import os
import secrets
import signal
import threading
import time

import psutil
import psycopg
import pytest

from bench.application_submit import API, Resident
from tests.server import fresh_database_url, start

pytestmark = pytest.mark.postgres


@pytest.mark.skipif(not os.environ.get("MADOGUCHI_DATABASE_URL", "").startswith("postgres"),
                    reason="needs PostgreSQL (MADOGUCHI_DATABASE_URL=postgresql://…)")
def test_a_submission_cut_by_a_killed_server_is_submitted_by_the_retry(tmp_path):
    url, drop = fresh_database_url("submit_crash")
    server = start(tmp_path, url, MADOGUCHI_APPLICATION_API_RATE="100000")
    again = None
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        resident = Resident(port, server.env, str(tmp_path))
        assert resident.submit(resident.signed_draft())[0] == 201  # this year's counter row exists now
        signed = resident.signed_draft()
        key = secrets.token_urlsafe(24)
        body = {"ceremony_id": signed["ceremony_id"], "poll_token": signed["poll_token"]}

        with psycopg.connect(url) as blocker:
            blocker.execute("SELECT 1 FROM applications_receiptcounter FOR UPDATE")  # held until rollback
            answers = []
            cut = threading.Thread(target=lambda: answers.append(_try(resident, signed, body, key)))
            cut.start()
            deadline = time.monotonic() + 60
            with psycopg.connect(url, autocommit=True) as watcher:
                while not watcher.execute("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND wait_event_type = 'Lock'").fetchone():
                    assert time.monotonic() < deadline, "the submission never reached the counter"
                    time.sleep(0.1)
            # The submission has consumed its ceremony and waits at the counter: the server dies.
            processes = [psutil.Process(server.process.pid), *psutil.Process(server.process.pid).children(True)]
            for process in processes:
                process.send_signal(signal.SIGKILL)
            server.process.wait()
            cut.join(timeout=30)
            assert answers and answers[0][0] is None, answers  # the client got no answer
            blocker.rollback()

        again = start(tmp_path, url, prepare=False, MADOGUCHI_APPLICATION_API_RATE="100000")
        resident.port = resident.browser.port = int(again.base_url.rsplit(":", 1)[1])
        status, application = resident.call("POST", f"{API}/drafts/{signed['draft']}/submit", body,
                                            headers={"Idempotency-Key": key})
        assert status == 201, application  # not 409 "already_used"
        status, replay = resident.call("POST", f"{API}/drafts/{signed['draft']}/submit", body,
                                       headers={"Idempotency-Key": key})
        assert status == 200 and replay["id"] == application["id"]
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM applications_application WHERE idempotency_key = %s",
                                [key]).fetchone()[0] == 1
            assert conn.execute("SELECT count(*) FROM applications_application WHERE status <> 'draft'"
                                ).fetchone()[0] == 2
    finally:
        for running in (again, server):
            if running is not None:
                running.stop()
        drop()


def _try(resident, signed, body, key):
    try:
        return resident.call("POST", f"{API}/drafts/{signed['draft']}/submit", body,
                             headers={"Idempotency-Key": key})
    except (OSError, http.client.HTTPException) as exc:  # the connection died with the server
        return (None, repr(exc))
