"""`madoguchi run` (what `make run` starts): server and worker together, stopped by Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.server import fresh_database_url, free_port, server_env, wait_until_up


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def shell(env, code: str) -> str:
    result = subprocess.run([sys.executable, "-m", "madoguchi", "shell", "--no-imports", "-c", code], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_run_serves_works_tasks_and_stops_on_ctrl_c(tmp_path):
    url, drop = fresh_database_url("run")
    env = server_env(tmp_path, url)
    port = free_port()
    log = open(tmp_path / "run.log", "w")
    run = subprocess.Popen([sys.executable, "-m", "madoguchi", "run", "--port", str(port), "--workers", "1"],
                           env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/livez", run, timeout=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/139998/", timeout=10) as response:
            assert "窓口市" in response.read().decode()
        output = (tmp_path / "run.log").read_text()
        assert "otpauth://totp/madoguchi%3Ademo-admin?secret=" in output
        assert "code now" in output

        # The worker started beside the server runs a task enqueued now.
        task_id = shell(env, "from madoguchi.audit.tasks import verify_audit_chains;"
                             "print(verify_audit_chains.enqueue().id)")
        status = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = shell(env, "from madoguchi.audit.tasks import verify_audit_chains;"
                                f"print(verify_audit_chains.get_result('{task_id}').status)")
            if status in ("SUCCESSFUL", "FAILED"):
                break
            time.sleep(1)
        assert status == "SUCCESSFUL"

        workers = children_of(run.pid)
        assert len(workers) == 2  # gunicorn and the task worker
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert run.wait(timeout=30) == 0
        time.sleep(0.5)
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        log.close()
        drop()
