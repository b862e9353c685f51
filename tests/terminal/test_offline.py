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


def test_sorted_keys_union_merges_sorts_and_drops_repeats():
    import array
    import random

    rng = random.Random(7)
    first = array.array("Q", [rng.getrandbits(64) for _ in range(5000)] + [3, 3, (1 << 64) - 1])
    second = array.array("Q", list(first[:100]) + [0, 2])
    union = SortedKeys.union([first, memoryview(second)])
    assert list(union._a) == sorted(set(first) | set(second))
    assert 0 in union and (1 << 64) - 1 in union and 1 not in union
    assert len(SortedKeys.union([])) == 0 and len(SortedKeys.union([array.array("Q")])) == 0
    assert list(SortedKeys.from_bytes(union.to_bytes())._a) == list(union._a)


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
    # The server saw the admission and the next lists leave the ticket out: still "already used"
    # (not "no ticket on this card"); another service's list is not this one's.
    again.install("v2", SortedKeys.build([99]), {"tickets": SortedKeys.build([bob])})
    assert again.decide("tickets", alice, 10).reason == "already_used"
    assert again.decide("other", alice, 10).reason == "not_allowed"
    pending = again.pending()
    assert [e["result"] for e in pending] == ["no_lists", "admitted", "already_used", "revoked",
                                                "not_allowed", "already_used", "already_used", "not_allowed"]
    assert len({e["id"] for e in pending}) == 8
    again.acknowledge([pending[0]["id"], pending[1]["id"]])
    assert len(again.pending()) == 6


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


def test_an_unchanged_revocation_index_is_kept_not_rewritten(tmp_path):
    import pytest

    state = LocalState(tmp_path / "t.sqlite3")
    with pytest.raises(ValueError):  # nothing to keep yet
        state.install("v0", None, {"tickets": SortedKeys.build([])}, "r1")
    state.install("v1", SortedKeys.build([99, 100]), {"tickets": SortedKeys.build([1])}, "r1")
    state.install("v2", None, {"tickets": SortedKeys.build([2])}, "r1")  # the server left the index out
    assert 99 in state.revoked and 2 in state.allow["tickets"] and 1 not in state.allow["tickets"]
    with pytest.raises(ValueError):  # another version than the one held
        state.install("v3", None, {"tickets": SortedKeys.build([])}, "r2")
    state.close()
    again = LocalState(tmp_path / "t.sqlite3")
    assert again.version == "v2" and again.revoked_version == "r1" and 100 in again.revoked
    assert again.decide("tickets", 2, 5).reason == "admitted" and again.decide("tickets", 3, 99).reason == "revoked"


def test_union_of_key_arrays_sorted_without_repeats():
    import array

    a, b = array.array("Q", [5, 1, 9]), memoryview(array.array("Q", [9, 2, (1 << 64) - 1]))
    union = SortedKeys.union([a, b])
    assert len(union) == 5 and all(k in union for k in (1, 2, 5, 9, (1 << 64) - 1)) and 3 not in union
    assert SortedKeys.from_bytes(union.to_bytes()).to_bytes() == union.to_bytes()  # sorted, no repeats
    assert len(SortedKeys.union([])) == 0


def test_a_card_on_the_reentry_list_enters_every_time_and_is_never_marked_used(tmp_path):
    from madoguchi.terminal.state import REENTRY

    pass_holder, single = card_key(b"day pass"), card_key(b"concert")
    state = LocalState(tmp_path / "t.sqlite3")
    state.install("v1", SortedKeys.build([99]), {"tickets": SortedKeys.build([single]),
                                                 "tickets" + REENTRY: SortedKeys.build([pass_holder])})
    assert [state.decide("tickets", pass_holder, 10).reason for _ in range(3)] == ["admitted"] * 3
    assert state.decide("tickets", single, 11).reason == "admitted"
    assert state.decide("tickets", single, 11).reason == "already_used"
    assert state.decide("tickets", pass_holder, 99).reason == "revoked"  # revocation still comes first
    assert state.decide("other", pass_holder, 10).reason == "not_allowed"  # another service's list: not this one
    state.close()
    again = LocalState(tmp_path / "t.sqlite3")  # a restart: still not used
    assert again.decide("tickets", pass_holder, 10).reason == "admitted"
    assert list(again.db.execute("SELECT count(*) FROM used"))[0][0] == 1  # the single-entry ticket only
    events = again.pending()
    assert [e["service"] for e in events] == ["tickets"] * 6 + ["other", "tickets"]
    assert [e["result"] for e in events].count("admitted") == 5
