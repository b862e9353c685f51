"""Attendance end to end on real parts: a live server (gunicorn), `madoguchi terminal keygen`,
`madoguchi terminal sync --service attendance` fetching the members' card keys, the agent
reading virtual cards through pcscd + vpcd without a PIN and deciding offline (the member in
and out: no `used` set; a revoked certificate refused), the queue uploaded once (a resend is no
duplicate), and the organiser downloading the CSV over HTTP."""

import csv
import datetime as dt
import io
import json
import subprocess
import sys

import pytest
import requests

from madoguchi.terminal import signing
from madoguchi.terminal.agent import Agent
from madoguchi.terminal.state import LocalState
from tests.card.conftest import pcscd, vpcd_slot  # noqa: F401  (fixtures)
from tests.citizencard.test_terminal_live import CODE, ROOT, csrf, insert, query, terminal_cli
from tests.server import fresh_database_url, madoguchi, server_env, start, totp_code


@pytest.fixture
def system(tmp_path):
    url, drop = fresh_database_url("attendance")
    env = server_env(tmp_path, url, MADOGUCHI_SECURE_COOKIES="false")
    madoguchi(env, "migrate")
    keygen = subprocess.run([sys.executable, "-m", "madoguchi", "terminal", "keygen", "--out", str(tmp_path / "door.pem")],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert keygen.returncode == 0
    (tmp_path / "door.pub").write_text(keygen.stdout)
    seeded = subprocess.run([sys.executable, "-m", "tests.attendance.seed_live", str(tmp_path), str(tmp_path / "cards"),
                             str(tmp_path / "door.pub")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    server = start(tmp_path, url, prepare=False, MADOGUCHI_SECURE_COOKIES="false")
    yield server, seed, tmp_path, url
    server.stop()
    drop()


def test_a_door_records_a_member_in_and_out_offline_and_the_csv_exports(system, vpcd_slot, tmp_path):
    server, seed, data, url = system
    base = server.base_url
    door = ["--server", base, "--municipality", CODE, "--terminal-id", seed["terminal"], "--key",
            str(tmp_path / "door.pem"), "--state", str(tmp_path / "door"), "--service", "attendance"]
    synced = terminal_cli(server.env, "sync", *door)
    assert synced.returncode == 0, synced.stderr
    assert "revoked 1, allowed 1" in synced.stdout  # the revoked card's serial; the one member

    holder, reader = vpcd_slot
    agent = Agent(base, CODE, seed["terminal"], signing.load_private((tmp_path / "door.pem").read_bytes()),
                  LocalState(tmp_path / "door" / "terminal.sqlite3"), service="attendance", reader=reader)
    insert(holder, data / "cards" / "hanako")
    assert agent.tap().reason == "admitted"  # in, no PIN, offline
    assert agent.tap().reason == "admitted"  # out: attendance keeps no used set
    insert(holder, data / "cards" / "revoked")
    assert agent.tap().reason == "revoked"

    pending = agent.state.pending()
    start_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    for n, event in enumerate(pending):  # the member stayed 45 minutes by the terminal's clock
        event["at"] = (start_at + dt.timedelta(minutes=45 * n)).isoformat()
    sent = agent._request("POST", "events", json.dumps({"events": pending}).encode())
    assert sent["acknowledged"] == [e["id"] for e in pending]
    again = agent._request("POST", "events", json.dumps({"events": pending}).encode())  # a resend after a crash
    assert again["acknowledged"] == sent["acknowledged"]
    agent.state.acknowledge(sent["acknowledged"])
    count = "SELECT counted, count(*) FROM attendance_tap GROUP BY counted ORDER BY counted"
    assert [tuple(bool(v) if i == 0 else v for i, v in enumerate(r)) for r in query(data, url, count)] == [
        (False, 1), (True, 2)]

    staff = requests.Session()
    login = staff.get(f"{base}/{CODE}/staff/login/")
    assert staff.post(f"{base}/{CODE}/staff/login/", allow_redirects=False, data={
        "csrfmiddlewaretoken": csrf(login.text), "username": seed["username"], "password": seed["password"],
        "otp_token": totp_code(seed["totp"])}).status_code == 302
    exported = staff.get(f"{base}/{CODE}/staff/attendance/{seed['event']}/attendance.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8"))))
    assert rows[0] == ["pairwise_id", "entry", "exit", "minutes", "visits"]
    assert rows[1][0] == seed["pairwise_id"] and rows[1][3:] == ["45", "1"]
    assert "花子" not in exported.content.decode("utf-8")
