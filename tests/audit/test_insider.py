"""The insider of issue 13 (finding 7), end to end with real processes: someone with the
database's administrator rights drops the append-only triggers, deletes the newest events
and rewinds the chain head. `madoguchi audit verify` passed that before checkpoints; now the
checkpoint the worker or the operator wrote outside the database names what is missing.
Also: the CLI's exit codes and the worker's periodic checkpoints."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from tests.server import fresh_database_url, server_env, stop_process

SETUP = """
from madoguchi.municipalities.models import Municipality
from madoguchi.audit.services import record
from django.db import transaction
m, _ = Municipality.objects.get_or_create(code='139998', defaults=dict(name='窓口市', name_kana='まどぐちし'))
with transaction.atomic():  # all at once, as the worker's rounds see them
    for i in range({n}):
        record('test.step', municipality=m, data={{'i': i}})
print(m.pk)
"""


def cli(env, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "madoguchi", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def ok(env, *args):
    result = cli(env, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def deployment(tmp_path):
    url, drop = fresh_database_url("audit")
    env = server_env(tmp_path, url)
    ok(env, "migrate")
    yield env, url, tmp_path
    drop()


def insider_cut(url, data_dir, municipality_id: int, keep: int):
    """As the database's administrator: triggers dropped, tail deleted, head rewound, committed."""
    cut = [
        ("DELETE FROM audit_auditevent WHERE municipality_id = {p} AND seq > {p}", [municipality_id, keep]),
        ("UPDATE audit_auditchainhead SET last_seq = {p}, last_hash = (SELECT hash FROM audit_auditevent "
         "WHERE municipality_id = {p} AND seq = {p}) WHERE chain = {p}", [keep, municipality_id, keep,
                                                                          str(municipality_id)]),
    ]
    if url is None:
        with sqlite3.connect(data_dir / "madoguchi.sqlite3") as conn:
            conn.execute("DROP TRIGGER audit_event_no_update")
            conn.execute("DROP TRIGGER audit_event_no_delete")
            for sql, params in cut:
                conn.execute(sql.format(p="?"), params)
        return
    import psycopg

    admin_url = os.environ.get("MADOGUCHI_TEST_ADMIN_DATABASE_URL")
    if not admin_url:
        pytest.fail("MADOGUCHI_TEST_ADMIN_DATABASE_URL is not set: run the suite through scripts/test")
    with psycopg.connect(admin_url, dbname=urlsplit(url).path.lstrip("/")) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)
        conn.execute("DROP TRIGGER audit_event_no_change ON audit_auditevent")
        conn.execute("DROP TRIGGER audit_event_no_truncate ON audit_auditevent")
        for sql, params in cut:
            conn.execute(sql.format(p="%s"), params)


def test_the_insiders_cut_is_found(deployment):
    env, url, data_dir = deployment
    muni = int(ok(env, "shell", "--no-imports", "-c", SETUP.format(n=6)).strip())
    assert "WROTE  139998: seq 6" in ok(env, "audit", "checkpoint")
    assert "OK     139998: 6 events; checkpoint seq 6 of " in ok(env, "audit", "verify")

    insider_cut(url, data_dir, muni, keep=3)
    result = cli(env, "audit", "verify")
    assert result.returncode == 1, result.stdout
    assert ("BROKEN 139998: first broken link at seq 4: events 4-6 missing: checkpoint checkpoints-"
            in result.stdout)
    assert "records seq 6, the database ends at 3" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "madoguchi: 1 audit problem(s): see the BROKEN lines"
    # The chain itself is consistent: without the checkpoint this is what passed before.
    assert "BROKEN" not in ok(env, "shell", "--no-imports", "-c",
                              "from madoguchi.audit.services import verify_chain\n"
                              "from madoguchi.audit.checkpoints import CheckpointIndex\n"
                              "from madoguchi.municipalities.models import Municipality\n"
                              "r = verify_chain(Municipality.objects.get(code='139998'), index=CheckpointIndex())\n"
                              "print('OK' if r.ok else 'BROKEN', r.events)")
    # A new checkpoint would bless the cut: refused, exit 1.
    result = cli(env, "audit", "checkpoint", "--all")
    assert result.returncode == 1 and "REFUSED 139998: the chain now ends at seq 3" in result.stdout


def test_bad_arguments_exit_2_with_one_line(deployment):
    env, _, _ = deployment
    for args, message in [
        (["audit", "verify", "--municipality", "12345x"], "--municipality 12345x: "),
        (["audit", "verify", "--municipality", "139998"], "--municipality 139998: no such municipality"),
        (["audit", "checkpoint", "--everything"], "unrecognized arguments: --everything"),
        (["audit", "checkpoint-key", "extra"], "unrecognized arguments: extra"),
        (["audit"], "the following arguments are required: ACTION"),
    ]:
        result = cli(env, *args)
        assert result.returncode == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("madoguchi: ") and message in lines[0], result.stderr
    # An unwritable sink is one line and exit 2 as well.
    blocked = {**env, "MADOGUCHI_AUDIT_CHECKPOINT_DIR": "/proc/madoguchi-checkpoints"}
    ok(env, "shell", "--no-imports", "-c", SETUP.format(n=1))
    result = cli(blocked, "audit", "checkpoint")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "madoguchi: cannot append to /proc/madoguchi-checkpoints/checkpoints-" in result.stderr


def test_the_worker_writes_checkpoints_at_start_and_periodically(deployment):
    env, _, data_dir = deployment
    env = {**env, "MADOGUCHI_AUDIT_CHECKPOINT_SECONDS": "2"}
    ok(env, "shell", "--no-imports", "-c", SETUP.format(n=2))
    sink = data_dir / "audit-checkpoints"

    def seqs():
        return [json.loads(line)["checkpoint"]["seq"] for path in sorted(sink.glob("*.jsonl"))
                for line in path.read_text().splitlines()]

    def wait_for(seq, worker):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert worker.poll() is None, "the worker exited"
            if sink.exists() and seq in seqs():
                return
            time.sleep(0.5)
        pytest.fail(f"no checkpoint of seq {seq} within 60 s (have {seqs() if sink.exists() else 'none'})")

    log = open(data_dir / "worker.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(2, worker)  # at start
        ok(env, "shell", "--no-imports", "-c", SETUP.format(n=3))
        wait_for(5, worker)  # on the next round, without anyone asking
        time.sleep(3)  # more rounds: a head that did not move gets no new line
        assert seqs() == [2, 5]
        # One schedule, however many rounds: never two runs waiting (while one runs, none waits).
        samples = ok(env, "shell", "--no-imports", "-c",
                     "import time\n"
                     "from django_tasks_db.models import DBTaskResult\n"
                     "for _ in range(10):\n"
                     "    print(DBTaskResult.objects.filter(task_path__endswith='write_audit_checkpoints',"
                     " status='READY').count())\n"
                     "    time.sleep(0.5)").split()
        assert set(samples) <= {"0", "1"} and "1" in samples, samples
    finally:
        stop_process(worker, timeout=30)
        log.close()
    assert "OK     139998: 5 events; checkpoint seq 5" in ok(env, "audit", "verify")
