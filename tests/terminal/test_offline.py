"""The terminal's pure library: signed requests, offline lists, exactly-once decisions and a
durable event queue that survives a restart."""

import subprocess
import sys

from madoguchi.terminal import signing
from madoguchi.terminal.index import SortedKeys, card_key
from madoguchi.terminal.state import LocalState


def test_signature_binds_method_path_time_and_body():
    key = signing.new_key()
    pub = signing.load_public(signing.public_pem(key))
    sig = signing.sign(key, "POST", "/x/api/terminal/events", "7", "100", b"{}")
    assert signing.verify(pub, sig, "POST", "/x/api/terminal/events", "7", "100", b"{}")
    assert not signing.verify(pub, sig, "POST", "/x/api/terminal/events", "7", "100", b"{ }")
    assert not signing.verify(pub, sig, "POST", "/y/api/terminal/events", "7", "100", b"{}")
    assert not signing.verify(signing.load_public(signing.public_pem(signing.new_key())), sig,
                              "POST", "/x/api/terminal/events", "7", "100", b"{}")
    assert not signing.verify(pub, "not base64!", "POST", "/x/api/terminal/events", "7", "100", b"{}")


def test_sorted_keys_roundtrip_and_bad_input():
    keys = SortedKeys.build([5, 1, 1 << 63, (1 << 64) + 3])
    assert 1 in keys and 3 in keys and (1 << 63) in keys and 2 not in keys
    assert 3 in SortedKeys.from_bytes(keys.to_bytes())
    import pytest
    with pytest.raises(ValueError):
        SortedKeys.from_bytes(b"123")
    with pytest.raises(ValueError):
        SortedKeys.from_bytes((2).to_bytes(8, "little") + (1).to_bytes(8, "little"))


def test_offline_decisions_once_and_durable_queue(tmp_path):
    alice, bob, carol = card_key(b"alice"), card_key(b"bob"), card_key(b"carol")
    state = LocalState(tmp_path / "t.sqlite3")
    assert state.decide("tickets", alice, 10).reason == "no_lists"
    state.install("v1", SortedKeys.build([99]), {"tickets": SortedKeys.build([alice, bob])})
    assert state.decide("tickets", alice, 10).reason == "admitted"
    assert state.decide("tickets", alice, 10).reason == "already_used"  # exactly once at the gate
    assert state.decide("tickets", bob, 99).reason == "revoked"
    assert state.decide("tickets", carol, 11).reason == "not_allowed"
    state.close()
    again = LocalState(tmp_path / "t.sqlite3")  # a restart: lists, used set and queue survive
    assert again.version == "v1" and alice in again.allow["tickets"]
    assert again.decide("tickets", alice, 10).reason == "already_used"
    pending = again.pending()
    assert [e["result"] for e in pending] == ["no_lists", "admitted", "already_used", "revoked",
                                                "not_allowed", "already_used"]
    assert len({e["id"] for e in pending}) == 6
    again.acknowledge([pending[0]["id"], pending[1]["id"]])
    assert len(again.pending()) == 4


def test_cli_keygen_and_bad_arguments(tmp_path):
    out = tmp_path / "k.pem"
    done = subprocess.run([sys.executable, "-m", "madoguchi.terminal.cli", "keygen", "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "BEGIN PUBLIC KEY" in done.stdout
    signing.load_private(out.read_bytes())
    again = subprocess.run([sys.executable, "-m", "madoguchi.terminal.cli", "keygen", "--out", str(out)],
                           capture_output=True, text=True)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    bad = subprocess.run([sys.executable, "-m", "madoguchi.terminal.cli", "sync", "--server", "http://127.0.0.1:1",
                          "--municipality", "x", "--terminal-id", "1", "--key", str(tmp_path / "none.pem"),
                          "--state", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
