"""A municipality's chain under concurrent writers, on PostgreSQL: separate processes whose
transactions record events and then go on working do not wait for each other on the chain's
head; every event is appended exactly once, each transaction's in its order, and `madoguchi
audit verify` passes. (In-process tests cannot: the suite's database refuses the TRUNCATE a
transactional test ends with, as audit rows are append-only — so this uses a database of its
own, migrated by `madoguchi migrate`.)"""

import json
import os
import subprocess
import sys
import time

import psycopg
import pytest
from django.db import connection

from tests.server import fresh_database_url, madoguchi, server_env

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="PostgreSQL-only: SQLite has one writer at a time by design")

WRITERS = 6
WORK_SECONDS = 1.0  # the rest of each business transaction, after its events are recorded
CODE = "139998"


@pytest.fixture
def database(tmp_path):
    url, drop = fresh_database_url("audit_concurrency")
    env = server_env(tmp_path, url, MADOGUCHI_ENV="test", WRITERS_MUNICIPALITY=CODE)
    madoguchi(env, "migrate")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO municipalities_municipality (code, name, name_kana, is_active, contact_phone, "
                     "contact_email, website_url, office_hours, welcome_message, office_hours_en, "
                     "welcome_message_en, created_at) VALUES (%s, '窓口市', 'まどぐちし', true, '', '', '', '', '', '', '', "
                     "now())", [CODE])
        # The chain's head as its first event leaves it (a chain's first event creates it:
        # two first events wait for each other on its key, once in a municipality's life).
        conn.execute("INSERT INTO audit_auditchainhead (chain, last_seq, last_hash) "
                     "SELECT id::text, 0, %s FROM municipalities_municipality WHERE code = %s", ["0" * 64, CODE])
    yield url, env
    drop()


def writers(env, count: int, work: float) -> list[dict]:
    start_at = time.time() + 6  # every process has set Django up by then (a loaded machine: slow)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.audit.concurrent_writers", str(i), str(start_at),
                               str(work)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=os.getcwd()) for i in range(count)]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_writers_in_several_processes_do_not_wait_for_each_other(database):
    url, env = database
    done = writers(env, WRITERS, WORK_SECONDS)
    # Each transaction took about its own work: serialised on the head, the last would end
    # WRITERS × WORK_SECONDS after the first began.
    spread = max(d["ended"] for d in done) - min(d["began"] for d in done)
    assert spread < WORK_SECONDS * WRITERS / 2, f"{spread:.2f} s: the writers waited for each other: {done}"
    assert any(d["pending"] for d in done)  # some found the head held and did not wait for it
    assert rows(url, "SELECT count(*) FROM audit_auditpending") == [(0,)]  # all appended after their commits
    events = rows(url, "SELECT e.seq, e.object_id, e.data->>'k' FROM audit_auditevent e "
                       "JOIN municipalities_municipality m ON m.id = e.municipality_id WHERE m.code = %s "
                       "AND e.action = 'test.concurrent' ORDER BY e.seq", CODE)
    assert len(events) == WRITERS * 2
    assert [seq for seq, *_ in events] == list(range(events[0][0], events[0][0] + WRITERS * 2))
    for i in range(WRITERS):  # exactly once each, a transaction's events in its own order
        assert [k for _, writer, k in events if writer == str(i)] == ["0", "1"]
    verified = subprocess.run([sys.executable, "-m", "madoguchi", "audit", "verify", "--municipality", CODE],
                              env=env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{WRITERS * 2} events" in verified.stdout or str(WRITERS * 2) in verified.stdout
