"""/healthz against a real server whose database is really unreachable, or whose SQLite
file is moved away or replaced while the server holds it open."""

import json
import os
import shutil
import time
import urllib.error
import urllib.request

import pytest

from tests.server import start


def health(server) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(server.base_url + "/healthz", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def health_within(server, seconds: float, status: int) -> tuple[int, dict, float]:
    started = time.monotonic()
    while True:
        code, body = health(server)
        waited = time.monotonic() - started
        if code == status or waited > seconds:
            return code, body, waited
        time.sleep(0.1)


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    # Nothing listens on port 1: the database is down while the server runs.
    server = start(tmp_path, "postgresql://nobody@127.0.0.1:1/none", prepare=False)
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.base_url + "/healthz", timeout=30)
        assert info.value.code == 503
        assert json.loads(info.value.read()) == {"status": "unavailable", "database": "down",
                                                  "reason": "database unavailable (OperationalError)"}
        with urllib.request.urlopen(server.base_url + "/livez", timeout=10) as live:
            assert live.status == 200
    finally:
        server.stop()


def test_healthz_follows_the_configured_sqlite_file(tmp_path):
    # SQLite in the data directory, whatever database the suite runs on: this is the
    # embedded deployment's failure. Two gunicorn workers of four threads each hold
    # persistent connections (MADOGUCHI_DB_CONN_MAX_AGE 60 s) to the file.
    server = start(tmp_path, f"sqlite:///{tmp_path / 'madoguchi.sqlite3'}", workers=2)
    path = tmp_path / "madoguchi.sqlite3"
    try:
        for _ in range(20):  # every thread opens its connection
            assert health(server) == (200, {"status": "ok", "database": "up"})
        # Moved away: the open connections still read the moved file; the path names nothing.
        os.rename(path, tmp_path / "moved.sqlite3")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(str(path) + suffix):
                os.rename(str(path) + suffix, str(tmp_path / "moved.sqlite3") + suffix)
        code, body, waited = health_within(server, 2, 503)
        assert (code, body.get("reason")) == (503, "database file missing") and waited < 2, body
        for _ in range(10):  # every worker and thread says so, not only one
            assert health(server)[0] == 503
        # An empty file put at the path is not the database either.
        path.write_bytes(b"")
        code, body, waited = health_within(server, 2, 503)
        assert code == 503 and body.get("reason", "").startswith("database unavailable"), body
        # The database restored at the path (a new file): every connection follows it.
        path.unlink()
        shutil.copy(tmp_path / "moved.sqlite3", path)
        code, body, waited = health_within(server, 2, 200)
        assert code == 200 and waited < 2, body
        for _ in range(20):
            assert health(server)[0] == 200
    finally:
        server.stop()
