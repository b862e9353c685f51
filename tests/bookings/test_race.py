"""A hundred residents racing for one slot of five places, on PostgreSQL, each booking in its
own connection at once: exactly five are booked, the others are told it is full, nothing
else goes wrong, and the slot's count agrees with the bookings. (A database of its own, as
in tests/audit/test_concurrency.py: the suite's refuses a transactional test's TRUNCATE of
the append-only audit table.)"""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.server import fresh_database_url, madoguchi, server_env

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="PostgreSQL-only: SQLite takes one writer at a time by design")


def test_a_hundred_residents_race_for_five_places(tmp_path):
    url, drop = fresh_database_url("booking_race")
    try:
        env = server_env(tmp_path, url, MADOGUCHI_ENV="test")
        madoguchi(env, "migrate")
        result = subprocess.run([sys.executable, "-m", "tests.bookings.race", "100", "5", "25"], env=env,
                                capture_output=True, text=True, timeout=300, cwd=os.getcwd())
        assert result.returncode == 0, result.stderr[-3000:]
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        assert outcome["other"] == []
        assert (outcome["booked"], outcome["full"]) == (5, 95)
        assert outcome["slot_count"] == outcome["bookings"] == 5
    finally:
        drop()
