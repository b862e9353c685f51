"""PIN lockout sequences, identical to the card's: auth PIN 3 tries, signature password 5,
text PIN 3 — 63Cx down to 63C0, then 6984 on any VERIFY; counters survive restarts; only
the issuing office (the dev CA) unblocks. Raw APDUs on both transports."""

from __future__ import annotations

import pytest

from madoguchi.card import virtual
from madoguchi.card.transport import Channel, VirtualTransport
from madoguchi.card.jpki import JpkiAP
from madoguchi.card import apdu as A
from madoguchi.pki.devca import DevCA

from .conftest import PASSWORD, PIN, TEXT_PIN

SELECT = {
    "jpki": "00A4040C0AD392F000260100000001",
    "text": "00A4040C0AD3921000310001010408",
}
CASES = [
    ("auth PIN", "jpki", 0x0018, PIN, "0000", 3),
    ("signature password", "jpki", 0x001B, PASSWORD, "ZZZ999", 5),
    ("text PIN", "text", 0x0011, TEXT_PIN, "0000", 3),
]


def vhex(secret: str) -> str:
    data = secret.encode()
    return f"00200080{len(data):02X}{data.hex()}"


@pytest.mark.parametrize("label,ap,efid,good,bad,tries", CASES, ids=[c[0] for c in CASES])
def test_lockout_sequence(raw, label, ap, efid, good, bad, tries):
    assert raw(SELECT[ap]) == (b"", 0x9000)
    assert raw(f"00A4020C02{efid:04X}") == (b"", 0x9000)
    assert raw("00200080") == (b"", 0x63C0 | tries)
    for left in range(tries - 1, -1, -1):
        assert raw(vhex(bad)) == (b"", 0x63C0 | left)
        assert raw("00200080") == (b"", 0x63C0 | left)  # reading the counter costs nothing
    assert raw(vhex(good)) == (b"", 0x6984)  # blocked: even the right PIN is refused
    assert raw(vhex(bad)) == (b"", 0x6984)
    assert raw("00200080") == (b"", 0x63C0)


@pytest.mark.parametrize("label,ap,efid,good,bad,tries", CASES, ids=[c[0] for c in CASES])
def test_correct_entry_resets_the_counter(raw, label, ap, efid, good, bad, tries):
    raw(SELECT[ap])
    raw(f"00A4020C02{efid:04X}")
    for _ in range(tries - 1):
        raw(vhex(bad))
    assert raw("00200080") == (b"", 0x63C1)
    assert raw(vhex(good)) == (b"", 0x9000)
    raw(SELECT["text" if ap == "jpki" else "jpki"])  # leave the application: security state lost
    raw(SELECT[ap])
    raw(f"00A4020C02{efid:04X}")
    assert raw("00200080") == (b"", 0x63C0 | tries)


def test_counters_survive_a_restart(card_dir):
    first = Channel(VirtualTransport(virtual.VirtualCard(card_dir)))
    with pytest.raises(A.WrongPin) as exc:
        JpkiAP(first).verify("auth", "0000")
    assert exc.value.tries_left == 2
    first.close()
    second = JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(card_dir))))
    assert second.pin_status("auth").tries_left == 2


def test_blocked_stays_blocked_until_the_issuing_office_resets(card_dir, dev_ca, tmp_path):
    ap = JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(card_dir))))
    for expected in (4, 3, 2, 1):
        with pytest.raises(A.WrongPin) as exc:
            ap.verify("sign", "WRONG1")
        assert exc.value.tries_left == expected
    with pytest.raises(A.PinBlocked):
        ap.verify("sign", "WRONG1")
    with pytest.raises(A.PinBlocked):
        ap.verify("sign", PASSWORD)
    ap = JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(card_dir))))  # restart
    assert ap.pin_status("sign").blocked

    other_ca = DevCA.open(tmp_path / "other")
    with pytest.raises(PermissionError):
        virtual.reset_pins(card_dir, other_ca)
    assert virtual.reset_pins(card_dir, dev_ca, password="NEWPASS1")
    ap = JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(card_dir))))
    assert ap.pin_status("sign").tries_left == 5
    with pytest.raises(A.WrongPin):
        ap.verify("sign", PASSWORD)
    ap.verify("sign", "newpass1")  # upper-cased as the card expects
