"""The card terminal's kiosk page in chromium with a real terminal process: a madoguchi
server, `madoguchi terminal run` (the agent on 127.0.0.1, synced over the signed API, reading
virtual cards through pcscd + vpcd), and the page served by the municipality's site calling
the agent: admitted once, the same ticket refused, a revoked certificate refused, no card →
try again; the agent answers no other origin."""

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import axe_violations, screenshot
from tests.card.conftest import pcscd, vpcd_slot  # noqa: F401  (fixtures)
from tests.citizencard.live import seeded_server
from tests.server import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
CODE = "139998"


@contextlib.contextmanager
def terminal_system(tmp_path, slot, seed_module: str, *agent_args: str):
    """A server seeded by `seed_module` (run with the server's environment; its JSON names the
    registered terminal) and `madoguchi terminal run` as its own process, listening and synced.
    Yields (server, seed, the agent's port)."""
    with seeded_server(tmp_path, seed_module, "kiosk_gate") as (server, seed, key, _url):
        yield from _agent(server, seed, key, tmp_path, slot, agent_args)


def _agent(server, seed, key, tmp_path, slot, agent_args):
    port = free_port()
    log = open(tmp_path / "agent.log", "w")
    agent = subprocess.Popen([sys.executable, "-m", "madoguchi", "terminal", "run", "--server", server.base_url,
                              "--municipality", CODE, "--terminal-id", seed["terminal"], "--key", str(key),
                              "--state", str(tmp_path / "gate"), "--origin", server.base_url, "--port", str(port),
                              "--reader", slot[1], "--interval", "2", *agent_args], env=server.env, cwd=ROOT, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        status, deadline = {}, time.monotonic() + 60
        while not status.get("lists"):  # listening, and the first sync done
            assert agent.poll() is None and time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            try:
                status = requests.get(f"http://127.0.0.1:{port}/status", headers={"Origin": server.base_url}).json()
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        yield server, seed, port
    finally:
        stop_process(agent)
        log.close()


@pytest.fixture
def gate(tmp_path, vpcd_slot):
    with terminal_system(tmp_path, vpcd_slot, "tests.citizencard.seed_live") as (server, seed, port):
        yield server, seed, port, tmp_path


def test_the_kiosk_page_admits_once_and_refuses_with_the_reason(gate, vpcd_slot, page):
    from madoguchi.card import virtual

    server, seed, port, data = gate
    holder, _ = vpcd_slot
    assert requests.post(f"http://127.0.0.1:{port}/tap", headers={"Origin": "https://evil.example"}).status_code == 403

    def insert(name):
        holder.card = virtual.VirtualCard(data / "cards" / name)
        holder.card.power_on()

    def read():
        page.get_by_role("button", name="カードを読み取る").click()
        result = page.locator("#gate-result")
        result.filter(has_not_text="読み取っています").wait_for()
        page.wait_for_function("!document.getElementById('gate-read').disabled")
        return result.inner_text()

    page.goto(f"{server.base_url}/{CODE}/kiosk/{seed['terminal']}/?agent={port}")
    assert page.get_by_role("heading", name="市民音楽祭").is_visible()
    insert("hanako")
    assert "入場できます" in read()
    assert "すでに入場に使われています" in read()
    insert("revoked")
    assert "失効しています" in read()
    screenshot(page, "kiosk-gate-revoked")
    holder.card = None
    assert "読み取れませんでした" in read()
    # The agent answers "no card" with 409, which chromium logs as a failed resource: expected.
    assert [e for e in page.console_errors if "409 (Conflict)" not in e] == []
    assert axe_violations(page) == []
    assert requests.get(f"{server.base_url}/{CODE}/kiosk/{seed['terminal']}/?agent=80").status_code == 400
