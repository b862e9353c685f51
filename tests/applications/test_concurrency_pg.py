"""Concurrent submissions on PostgreSQL get exactly one application (database constraints,
not a read-then-write check). Threads with their own connections, in a separate process
against a database created and dropped here (the audit table refuses the TRUNCATE a
TransactionTestCase would need)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import fresh_database_url

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not os.environ.get("MADOGUCHI_DATABASE_URL", "").startswith("postgres"),
                    reason="needs PostgreSQL (MADOGUCHI_DATABASE_URL=postgresql://…)")
def test_concurrent_submissions_make_exactly_one_application(tmp_path):
    url, drop = fresh_database_url("applications")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
        env.update({"MADOGUCHI_ENV": "test", "MADOGUCHI_DATABASE_URL": url, "MADOGUCHI_DATA_DIR": str(tmp_path),
                    "MADOGUCHI_LOG_LEVEL": "WARNING"})
        result = subprocess.run([sys.executable, "-m", "tests.applications.concurrent_submit", "8"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        drop()
    same = report["same_key"]
    assert same["applications"] == 1
    assert [r[0] for r in same["results"]].count("created") == 1
    assert {r[0] for r in same["results"]} == {"created", "replayed"}
    assert len({r[1] for r in same["results"]}) == 1  # every tap got the same application
    different = report["different_keys"]
    # Eight different keys from another person at once: one open application per person.
    assert different["applications"] == 2, different
    assert sorted(r[0] for r in different["results"]) == ["created"] + ["duplicate"] * 7, different
