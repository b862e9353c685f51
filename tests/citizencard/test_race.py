"""Gates racing on PostgreSQL, each upload in its own connection at once: eight gates that
all admitted the same ticket offline → exactly one admission kept, seven conflicts; eight
resends of one batch at once → stored once, acknowledged eight times, no error. (A database
of its own, as tests/bookings/test_race.py.)"""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.server import fresh_database_url, madoguchi, server_env

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="PostgreSQL-only: SQLite takes one writer at a time by design")


def test_gates_racing_keep_one_admission_and_resends_store_once(tmp_path):
    url, drop = fresh_database_url("ticket_race")
    try:
        env = server_env(tmp_path, url, MADOGUCHI_ENV="test")
        madoguchi(env, "migrate")
        result = subprocess.run([sys.executable, "-m", "tests.citizencard.race", "8"], env=env,
                                capture_output=True, text=True, timeout=300, cwd=os.getcwd())
        assert result.returncode == 0, result.stderr[-3000:]
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        assert outcome == {"admitted": 1, "conflicts": 7, "refused": 1, "ticket": "used", "acknowledged": 16,
                           "errors": []}
    finally:
        drop()
