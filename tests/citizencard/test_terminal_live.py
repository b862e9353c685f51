"""A ticket gate end to end on real parts: a live madoguchi server (gunicorn), `madoguchi
terminal keygen`, an administrator registering the printed key through the back office over
HTTP, `madoguchi terminal sync` fetching the signed lists, the agent reading virtual cards
through pcscd + vpcd without a PIN and deciding offline (admitted once; the second tap of
the same ticket refused; a revoked certificate refused), its kiosk endpoint answering only
its origin, the queue uploaded once (a resend is no duplicate), and a revoked terminal
refused on its next sync."""

import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from madoguchi.card import virtual
from madoguchi.terminal import signing
from madoguchi.terminal.agent import Agent, kiosk_server
from madoguchi.terminal.state import LocalState
from tests.card.conftest import pcscd, vpcd_slot  # noqa: F401  (fixtures)
from tests.server import fresh_database_url, madoguchi, server_env, start, totp_code

ROOT = Path(__file__).resolve().parents[2]
CODE = "139998"
ORIGIN = "https://city.example"


@pytest.fixture
def system(tmp_path):
    url, drop = fresh_database_url("terminal")
    env = server_env(tmp_path, url, MADOGUCHI_SECURE_COOKIES="false")
    madoguchi(env, "migrate")
    seeded = subprocess.run([sys.executable, "-m", "tests.citizencard.seed_live", str(tmp_path), str(tmp_path / "cards")],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    server = start(tmp_path, url, prepare=False, MADOGUCHI_SECURE_COOKIES="false")
    yield server, seed, tmp_path, url
    server.stop()
    drop()


def query(data_dir, url, sql):
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()
    with sqlite3.connect(data_dir / "madoguchi.sqlite3", timeout=30) as conn:
        return conn.execute(sql).fetchall()


def terminal_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "madoguchi", "terminal", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def csrf(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def insert(holder, card_dir):
    holder.card = virtual.VirtualCard(card_dir)
    holder.card.power_on()


def test_a_gate_admits_a_ticket_once_offline_and_syncs_its_events(system, vpcd_slot, tmp_path):
    server, seed, data, url = system
    base = server.base_url

    keygen = terminal_cli(server.env, "keygen", "--out", str(tmp_path / "gate.pem"))
    assert keygen.returncode == 0 and "BEGIN PUBLIC KEY" in keygen.stdout

    staff = requests.Session()
    login = staff.get(f"{base}/{CODE}/staff/login/")
    signed = staff.post(f"{base}/{CODE}/staff/login/", allow_redirects=False, data={
        "csrfmiddlewaretoken": csrf(login.text), "username": seed["username"], "password": seed["password"],
        "otp_token": totp_code(seed["totp"])})
    assert signed.status_code == 302, signed.text[:500]
    terminals = f"{base}/{CODE}/staff/card-services/terminals/"
    form = {"csrfmiddlewaretoken": csrf(staff.get(terminals).text), "name": "東口ゲート", "place": "市民ホール",
            "service": "tickets", "ticket_type": str(seed["ticket_type"])}
    wrong = staff.post(terminals, data=dict(form, public_key=keygen.stdout[:60]), allow_redirects=False)
    assert wrong.status_code == 400 and "madoguchi terminal keygen" in wrong.text  # how to fix it
    made = staff.post(terminals, data=dict(form, public_key=keygen.stdout), allow_redirects=False)
    assert made.status_code == 302, made.text[:500]
    listing = staff.get(terminals).text
    terminal_id = re.search(r"<code>([0-9a-f-]{36})</code>", listing).group(1)
    revoke_url = base + re.search(r'action="([^"]+/revoke/)"', listing).group(1)

    gate = ["--server", base, "--municipality", CODE, "--terminal-id", terminal_id, "--key", str(tmp_path / "gate.pem"),
            "--state", str(tmp_path / "gate")]
    synced = terminal_cli(server.env, "sync", *gate)
    assert synced.returncode == 0, synced.stderr
    assert "revoked 1, allowed 1" in synced.stdout  # the revoked card's serial; the one ticket

    holder, reader = vpcd_slot
    agent = Agent(base, CODE, terminal_id, signing.load_private((tmp_path / "gate.pem").read_bytes()),
                  LocalState(tmp_path / "gate" / "terminal.sqlite3"), reader=reader)
    held = agent._request("GET", "lists", extra={signing.HEADER_REVOKED_VERSION: agent.state.revoked_version})
    assert "revoked" not in held and held["version"] == agent.state.version  # the index is not sent again
    insert(holder, data / "cards" / "hanako")
    assert agent.tap().reason == "admitted"  # no PIN: the certificate, decided offline
    assert agent.tap().reason == "already_used"  # the same ticket, a second time
    insert(holder, data / "cards" / "revoked")
    assert agent.tap().reason == "revoked"

    kiosk = kiosk_server(agent, ORIGIN)
    threading.Thread(target=kiosk.serve_forever, daemon=True).start()
    try:
        at = f"http://127.0.0.1:{kiosk.server_address[1]}"
        assert requests.post(f"{at}/tap", headers={"Origin": "https://evil.example"}).status_code == 403
        tapped = requests.post(f"{at}/tap", headers={"Origin": ORIGIN})
        assert tapped.json() == {"admitted": False, "reason": "revoked"}
        assert tapped.headers["Access-Control-Allow-Origin"] == ORIGIN
    finally:
        kiosk.shutdown()
        kiosk.server_close()

    pending = agent.state.pending()
    assert len(pending) == 4
    assert agent.upload() == 4 and agent.state.pending() == []
    count = "SELECT outcome, count(*) FROM citizencard_terminalevent GROUP BY outcome ORDER BY outcome"
    assert query(data, url, count) == [("admitted", 1), ("refused", 3)]
    again = agent._request("POST", "events", json.dumps({"events": pending}).encode())  # a resend after a crash
    assert again["acknowledged"] == [e["id"] for e in pending]
    assert query(data, url, count) == [("admitted", 1), ("refused", 3)]  # no duplicate
    assert query(data, url, "SELECT status FROM citizencard_ticket") == [("used",)]
    # The used ticket is off the list; the unchanged revocation index was left out and kept.
    assert "revoked 1, allowed 0" in terminal_cli(server.env, "sync", *gate).stdout

    page = staff.get(f"{base}/{CODE}/staff/card-services/tickets/{seed['ticket_type']}/").text
    assert "東口ゲート" in page and "入場済み" in page
    stopped = staff.post(revoke_url, data={"csrfmiddlewaretoken": csrf(listing), "reason": "紛失"},
                         allow_redirects=False)
    assert stopped.status_code == 302
    refused = terminal_cli(server.env, "sync", *gate)
    assert refused.returncode == 2 and "403" in refused.stderr and "紛失" in refused.stderr
