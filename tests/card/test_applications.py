"""The JPKI and text applications through `Channel`, on both transports."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from madoguchi.card import apdu as A
from madoguchi.card import mynumber
from madoguchi.card.jpki import InvalidPinFormat, JpkiAP
from madoguchi.card.text import TextAP
from madoguchi.pki import profile

from .conftest import HOLDER, PASSWORD, PIN, TEXT_PIN


class CountingTransport:
    def __init__(self, inner):
        self.inner = inner
        self.commands: list[bytes] = []

    def transmit(self, raw):
        self.commands.append(bytes(raw))
        return self.inner.transmit(raw)

    def close(self):
        self.inner.close()


def test_certificates_are_read_in_chunks_by_offset(make_transport, card_dir):
    from madoguchi.card.transport import Channel

    counting = CountingTransport(make_transport(card_dir))
    ap = JpkiAP(Channel(counting))
    der = ap.certificate("auth")
    x509.load_der_x509_certificate(der)
    reads = [c for c in counting.commands if c[1] == 0xB0]
    assert len(reads) >= 2 + len(der) // 256 - 1
    assert reads[0] == bytes.fromhex("00B0000008")
    offsets = [(c[2] << 8) | c[3] for c in reads]
    assert offsets == sorted(offsets) and offsets[0] == 0


def test_jpki_application(channel):
    ap = JpkiAP(channel)
    assert ap.token_label() == "JPKIAPICCTOKEN2"
    auth = x509.load_der_x509_certificate(ap.certificate("auth"))
    auth_ca = x509.load_der_x509_certificate(ap.ca_certificate("auth"))
    auth.verify_directly_issued_by(auth_ca)
    with pytest.raises(A.SecurityStatusNotSatisfied):
        ap.certificate("sign")
    sign = x509.load_der_x509_certificate(ap.certificate_after_verify("sign", PASSWORD.lower()))
    sign.verify_directly_issued_by(x509.load_der_x509_certificate(ap.ca_certificate("sign")))
    facts = profile.facts_from_certificate(sign)
    assert (facts.name, facts.address, facts.birth, facts.sex) == (HOLDER.name, HOLDER.address, HOLDER.birth, "2")

    digest = hashlib.sha256(b"ceremony").digest()
    signature = ap.sign_digest("auth", digest, PIN)
    auth.public_key().verify(signature, b"ceremony", padding.PKCS1v15(), hashes.SHA256())
    signature = ap.sign_digest("sign", digest, PASSWORD)
    sign.public_key().verify(signature, b"ceremony", padding.PKCS1v15(), hashes.SHA256())


def test_pin_status_and_format_checks_cost_no_try(channel):
    ap = JpkiAP(channel)
    assert ap.pin_status("auth").tries_left == 3
    assert ap.pin_status("sign").tries_left == 5
    for purpose, bad in (("auth", "12345"), ("auth", "12a4"), ("sign", "abc"), ("sign", "ABC-123")):
        with pytest.raises(InvalidPinFormat):
            ap.verify(purpose, bad)
    assert ap.pin_status("auth").tries_left == 3
    assert ap.pin_status("sign").tries_left == 5
    with pytest.raises(A.WrongPin) as exc:
        ap.verify("auth", "9999")
    assert exc.value.tries_left == 2 and exc.value.sw == 0x63C2


def test_change_pin(channel):
    ap = JpkiAP(channel)
    ap.change_pin("auth", PIN, "4321")
    ap.change_pin("sign", PASSWORD, "newpass99")
    with pytest.raises(A.WrongPin):
        ap.verify("auth", PIN)
    ap.verify("auth", "4321")
    ap.verify("sign", "NEWPASS99")
    text = TextAP(channel)
    text.change_pin(TEXT_PIN, "0007")
    text.verify("0007")


def test_text_application(channel, card_state):
    text = TextAP(channel)
    assert text.pin_status().tries_left == 3
    with pytest.raises(A.SecurityStatusNotSatisfied):
        text.basic_facts()
    facts = text.basic_facts(TEXT_PIN)
    assert facts.name == HOLDER.name and facts.address == HOLDER.address
    assert facts.birth == HOLDER.birth and facts.sex == "2" and facts.sex_label == "female"
    assert "individual" not in repr(facts).lower()
    number = text.individual_number()  # asked for explicitly
    assert number == card_state["text"]["mynumber"] and mynumber.is_valid(number)


def test_android_token_needs_the_pin_for_the_auth_certificate(dev_ca, tmp_path):
    from madoguchi.card import constants as C
    from madoguchi.card import virtual
    from madoguchi.card.transport import Channel, VirtualTransport

    from .conftest import HOLDER as H

    path = virtual.issue(tmp_path / "android", dev_ca, H, PIN, PASSWORD, TEXT_PIN, token=C.TOKEN_ANDROID)
    ap = JpkiAP(Channel(VirtualTransport(virtual.VirtualCard(path))))
    assert ap.token_label() == C.TOKEN_ANDROID
    with pytest.raises(A.SecurityStatusNotSatisfied):
        ap.certificate("auth")
    ap.verify("auth", PIN)
    x509.load_der_x509_certificate(ap.channel.read_tlv_file(C.EF_AUTH_CERT))


def synthetic_number(seed: int) -> str:
    """A 12-digit number with a check digit by the published rule (DOMAIN.md §6), computed
    here independently of the code under test. Made at run time: no individual number,
    real-looking or not, is committed."""
    body = f"{(seed * 7919 + 12345678901) % 10**11:011d}"
    r = sum(int(d) * w for d, w in zip(body, (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2))) % 11
    return body + str(0 if r <= 1 else 11 - r)


def test_individual_numbers_have_valid_check_digits():
    for seed in range(200):
        number = synthetic_number(seed)
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert mynumber.is_valid(number) and not mynumber.is_valid(wrong)
    for _ in range(200):
        assert mynumber.is_valid(mynumber.generate())
    number = synthetic_number(1)
    assert mynumber.mask(number) == number[:4] + " **** ****"  # the one rule (applications shows it)
