"""Concurrent taps on 「お支払い」 on PostgreSQL make exactly one payment, and concurrent
confirmations one success (database constraints and row locks, not read-then-write).
Threads with their own connections, in a separate process against a fresh database."""

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
def test_concurrent_pay_requests_make_one_payment_and_one_success(tmp_path):
    url, drop = fresh_database_url("payments")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
        env.update({"MADOGUCHI_ENV": "test", "MADOGUCHI_DATABASE_URL": url, "MADOGUCHI_DATA_DIR": str(tmp_path),
                    "MADOGUCHI_LOG_LEVEL": "WARNING", "MADOGUCHI_MYNUMBER_KEYS": "test1:" + "A" * 43 + "="})
        result = subprocess.run([sys.executable, "-m", "tests.payments.concurrent_pay", "8"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        drop()
    assert report["payments"] == 1, report
    assert len(set(report["start"])) == 1 and not report["start"][0].startswith("error"), report["start"]
    assert report["confirm"] == ["succeeded"] * 8, report["confirm"]
    assert report["succeeded_events"] == 1 and report["received_history"] == 1
    assert report["application"] == "received"
