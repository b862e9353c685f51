"""Never another person's data (the 2023 コンビニ交付 incidents): residents issue certificates
at once — threads with their own database connections, and browsers' requests through a
real server's worker processes — and every PDF's text (pdftotext) names its requester and
nobody else, with the issue log's subject the requester's own record. Runs
bench/certificates_issue.py --check on this run's database kind (a fresh PostgreSQL
database in the PostgreSQL run)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_issuance_never_mixes_residents(tmp_path):
    env = dict(os.environ)
    args = [sys.executable, str(ROOT / "bench" / "certificates_issue.py"), "--residents", "8", "--per-resident", "2",
            "--threads", "8", "--seconds", "1", "--check"]
    url = env.get("MADOGUCHI_DATABASE_URL", "")
    if not url.startswith("postgres"):
        args.append("--sqlite")
    else:
        env["MADOGUCHI_TEST_DATABASE_URL"] = env.get("MADOGUCHI_TEST_ADMIN_DATABASE_URL", "")
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "checked every PDF's text: no other person" in result.stdout
    assert "FAILED" not in result.stdout
