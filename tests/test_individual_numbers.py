"""The individual-number scanner finds what is planted, and leaves the sealed column alone."""

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest

from tests.applications.helpers import as_typed, masked, synthetic_number
from tests.individual_numbers import (
    DEMO_INDIVIDUAL_NUMBERS, card_numbers, numbers_in, scan_django, scan_files, scan_sqlite,
)

PLANTED = synthetic_number(7)


def test_the_constant_holds_the_numbers_the_tests_use():
    for seed in (1, 11, 12, 21, 22, 42):
        assert synthetic_number(seed) in DEMO_INDIVIDUAL_NUMBERS
    assert all(len(n) == 12 and n.isdigit() for n in DEMO_INDIVIDUAL_NUMBERS)


def test_numbers_are_found_in_every_written_form_but_not_masked():
    needles = {PLANTED}
    grouped = f"{PLANTED[:4]}-{PLANTED[4:8]}-{PLANTED[8:]}"
    for text in (PLANTED, f"id={PLANTED};", as_typed(PLANTED), grouped, f"x99{PLANTED}77"):
        assert numbers_in(text, needles) == {PLANTED}, text
    for text in (masked(PLANTED), PLANTED[:11], PLANTED[1:] + "x"):
        assert numbers_in(text, needles) == set(), text


def test_planted_numbers_are_found_in_logs_sqlite_and_the_database(db):
    from django.db import connection

    from madoguchi.municipalities.models import Municipality

    # Outside the session's temporary directory, so the last scan never sees these plants.
    with tempfile.TemporaryDirectory() as where:
        where = Path(where)
        log = where / "server.log"
        log.write_text("INFO ok\nWARNING something " + as_typed(PLANTED) + "\n", encoding="utf-8")
        clean = where / "clean.log"
        clean.write_text("nothing here " + masked(PLANTED) + "\n", encoding="utf-8")
        assert scan_files([log, clean], {PLANTED}) == [f"{log}: {PLANTED[:4]}…"]

        database = where / "madoguchi.sqlite3"
        with sqlite3.connect(database) as c:
            c.execute("CREATE TABLE applications_application (id INTEGER, data TEXT)")
            c.execute("CREATE TABLE applications_individualnumber (id INTEGER, sealed BLOB, pointer TEXT)")
            c.execute("INSERT INTO applications_application VALUES (1, ?)", (json.dumps({"n": PLANTED}),))
            c.execute("INSERT INTO applications_individualnumber VALUES (1, ?, '/n')", (PLANTED.encode(),))
        assert scan_sqlite(database, {PLANTED}) == [f"{database} applications_application.data"]

        card = where / "cards" / "x" / "card.json"
        card.parent.mkdir(parents=True)
        card.write_text(json.dumps({"text": {"mynumber": PLANTED}}), encoding="utf-8")
        assert card_numbers(where) == {PLANTED}

    Municipality.objects.create(code="139998", name="窓口市", name_kana="まどぐちし", welcome_message=f"番号 {PLANTED}")
    assert scan_django(connection, {PLANTED}) == ["test database municipalities_municipality.welcome_message"]


@pytest.mark.django_db
def test_the_suite_database_is_clean_now():
    from django.db import connection

    assert scan_django(connection, set(DEMO_INDIVIDUAL_NUMBERS)) == []


@pytest.mark.skipif(not os.environ.get("MADOGUCHI_DATABASE_URL", "").startswith("postgres"),
                    reason="servers get their own databases only on PostgreSQL")
def test_a_server_database_is_scanned_before_it_is_dropped():
    import psycopg

    from tests.individual_numbers import DROPPED_DATABASES
    from tests.server import fresh_database_url

    url, drop = fresh_database_url("scan")
    planted = DEMO_INDIVIDUAL_NUMBERS[3]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE note (body text)")
        conn.execute("INSERT INTO note VALUES (%s)", (f"番号 {planted[:4]}-{planted[4:8]}-{planted[8:]}",))
    name = url.rsplit("/", 1)[-1]
    try:
        drop()
        assert DROPPED_DATABASES[name] and "note" in DROPPED_DATABASES[name][0]
    finally:
        DROPPED_DATABASES.pop(name, None)  # planted on purpose: not a finding of the suite
