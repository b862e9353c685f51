"""After the whole suite: no demo individual number in any log, artifact or reachable
database column outside the sealed one (issue #7, item 12). Ordered last by conftest.py.

Reached: every `*.log` under the session's temporary directory (each tests/server.py server
logs to `<data dir>/server.log` there), the text files in test-artifacts/, every SQLite
database under the session's temporary directory (the servers' databases on SQLite), and the
suite's own database. A server's PostgreSQL database is dropped with its module: the drop
scans it first (tests/server.py), and what it found is checked here.
"""

from pathlib import Path

from tests.individual_numbers import (
    DEMO_INDIVIDUAL_NUMBERS, DROPPED_DATABASES, card_numbers, scan_django, scan_files, scan_sqlite,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TEXT_SUFFIXES = {".log", ".txt", ".html", ".json", ".csv", ".xml"}


def test_no_demo_individual_number_outside_the_sealed_column(db, tmp_path_factory):
    from django.db import connection

    base = tmp_path_factory.getbasetemp()
    needles = set(DEMO_INDIVIDUAL_NUMBERS) | card_numbers(base)
    logs = sorted(base.rglob("*.log"))
    artifacts = sorted(p for p in ARTIFACTS.rglob("*") if p.suffix in TEXT_SUFFIXES) if ARTIFACTS.exists() else []
    hits = scan_files(logs + artifacts, needles)
    for database in sorted(base.rglob("*.sqlite3")):
        hits += scan_sqlite(database, needles)
    hits += scan_django(connection, needles)
    hits += [hit for found in DROPPED_DATABASES.values() for hit in found]
    assert hits == []
