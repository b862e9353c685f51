"""A hands-free gate on real parts: `madoguchi terminal gate` as its own process against a live
server, reading virtual cards through pcscd + vpcd as they are put on and taken off the reader
(SCardGetStatusChange), nobody pressing anything. One line per decision; the --on-admitted
command at each admission only; a card left lying on the reader decided once; the events
reach the server at the next sync; SIGTERM stops it cleanly."""

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from madoguchi.card import virtual
from tests.card.conftest import pcscd, vpcd_slot  # noqa: F401  (fixtures)
from tests.citizencard.test_terminal_live import query
from tests.citizencard.live import seeded_server

ROOT = Path(__file__).resolve().parents[2]
CODE = "139998"


@pytest.fixture
def system(tmp_path):
    with seeded_server(tmp_path, "tests.citizencard.seed_live", "gate") as (server, seed, _key, url):
        yield server, seed, tmp_path, url


class Lines:
    """The gate's stdout, line by line, read by a thread."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        threading.Thread(target=lambda: [self.queue.put(line.rstrip("\n")) for line in stream], daemon=True).start()

    def next(self, timeout=30.0) -> str:
        return self.queue.get(timeout=timeout)

    def until(self, needle: str, timeout=60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(max(0.1, deadline - time.monotonic()))
            if needle in line:
                return line


def test_a_hands_free_gate_decides_each_card_once_as_it_is_put_on(system, vpcd_slot, tmp_path):
    server, seed, data, url = system
    holder, reader = vpcd_slot
    holder.take_away()
    opened = tmp_path / "turnstile.log"
    gate = subprocess.Popen(
        [sys.executable, "-m", "madoguchi", "terminal", "gate", "--server", server.base_url, "--municipality", CODE,
         "--terminal-id", seed["terminal"], "--key", str(tmp_path / "gate.pem"), "--state", str(tmp_path / "gate"),
         "--reader", reader, "--interval", "1",
         "--on-admitted", f"{sys.executable} -c \"open({str(opened)!r}, 'a').write('open\\n')\""],
        env=server.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = Lines(gate.stdout)
        assert "gate ready on reader" in lines.until("gate ready")
        lines.until("lists synced")

        holder.put(virtual.VirtualCard(data / "cards" / "hanako"))
        assert lines.until(" admitted").endswith(" admitted")  # no button, no PIN
        time.sleep(3)  # left lying on the reader: no second decision (sync lines only)
        while not lines.queue.empty():
            line = lines.next()
            assert " admitted" not in line and " refused" not in line, line
        assert opened.read_text() == "open\n"

        holder.take_away()
        time.sleep(1)
        holder.put(virtual.VirtualCard(data / "cards" / "hanako"))  # the same ticket again
        assert lines.until("refused").endswith("refused already_used")
        holder.take_away()
        time.sleep(1)
        holder.put(virtual.VirtualCard(data / "cards" / "revoked"))
        assert lines.until("refused").endswith("refused revoked")
        assert opened.read_text() == "open\n"  # the turnstile opened for the admission only
        holder.take_away()

        deadline = time.monotonic() + 30  # the next sync uploads the three decisions
        count = "SELECT count(*) FROM citizencard_terminalevent"
        while query(data, url, count)[0][0] < 3:
            assert time.monotonic() < deadline, "the gate's events did not reach the server"
            time.sleep(0.5)
        outcomes = sorted(r[0] for r in query(data, url, "SELECT outcome FROM citizencard_terminalevent"))
        assert outcomes == ["admitted", "refused", "refused"]
    finally:
        gate.send_signal(signal.SIGTERM)
        try:
            assert gate.wait(timeout=15) == 0
        finally:
            if gate.poll() is None:
                gate.kill()
            if holder.server is None:  # the slot as the next test expects it: connected, no card
                holder.server = holder.connect()
            holder.card = None


def test_the_gate_command_refuses_bad_arguments_in_one_line(tmp_path):
    from madoguchi.terminal import signing

    key = tmp_path / "k.pem"
    key.write_bytes(signing.private_pem(signing.new_key()))
    base = [sys.executable, "-m", "madoguchi", "terminal", "gate", "--server", "http://127.0.0.1:9", "--municipality",
            CODE, "--terminal-id", "x", "--key", str(key), "--state", str(tmp_path / "s")]
    for extra in (["--interval", "soon"], ["--on-admitted", "'unbalanced"], ["--reader", "No Such Reader 99"]):
        done = subprocess.run(base + extra, capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 2, (extra, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("madoguchi terminal:")
