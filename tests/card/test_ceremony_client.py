"""The ceremony client's `identify` answer over a card (in-process and through PC/SC): one
card session reads both certificates, then each key signs bytes naming both (issue 13)."""

from __future__ import annotations

import base64
import secrets as random

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from madoguchi.card.ceremony_client import Secrets, answer
from madoguchi.card.jpki import JpkiAP
from madoguchi.pki import pairing
from madoguchi.protocol.ceremony import DOMAIN_PREFIX, binding_der, to_be_signed

from .conftest import PASSWORD, PIN


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def description(purpose: str) -> dict:
    challenge = random.token_bytes(32)
    return {"id": random.token_urlsafe(32), "purpose": purpose, "audience": "139998:portal",
            "challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(), "requester": "窓口市",
            "reason": "本人確認"}


def test_identify_reads_both_certificates_then_both_keys_sign_them(channel):
    asked = []
    secrets = Secrets(pin=lambda: asked.append("pin") or PIN, password=lambda: asked.append("password") or PASSWORD)
    ceremony = description("identify")
    body = answer(ceremony, JpkiAP(channel), secrets)

    assert asked == ["pin", "password"]  # each secret asked once
    auth_der, sign_der = unb64(body["auth_certificate"]), unb64(body["sign_certificate"])
    auth, sign = x509.load_der_x509_certificate(auth_der), x509.load_der_x509_certificate(sign_der)
    challenge = unb64(ceremony["challenge"])
    tbs = to_be_signed(ceremony["id"], challenge, ceremony["audience"], "identify", auth_certificate=auth_der,
                       sign_certificate=sign_der)
    assert tbs.startswith(DOMAIN_PREFIX) and auth_der != sign_der
    auth.public_key().verify(unb64(body["auth_signature"]), tbs, padding.PKCS1v15(), hashes.SHA256())
    sign.public_key().verify(unb64(body["sign_signature"]), tbs, padding.PKCS1v15(), hashes.SHA256())
    # Not the version 1 bytes, which named no certificate.
    old = DOMAIN_PREFIX + binding_der(ceremony["id"], challenge, ceremony["audience"], "identify")
    assert tbs != old
    # The virtual card's two certificates pass the server's one-card check.
    ap = JpkiAP(channel)
    auth_ca = x509.load_der_x509_certificate(ap.ca_certificate("auth"))
    sign_ca = x509.load_der_x509_certificate(ap.ca_certificate("sign"))
    assert pairing.mismatch(auth, auth_ca, sign, sign_ca) is None


def test_login_signs_the_version_1_bytes_with_the_pin_only(channel):
    asked = []
    secrets = Secrets(pin=lambda: asked.append("pin") or PIN, password=lambda: asked.append("password") or PASSWORD)
    ceremony = description("login")
    body = answer(ceremony, JpkiAP(channel), secrets)
    assert asked == ["pin"] and set(body) == {"audience", "auth_certificate", "auth_signature"}
    tbs = to_be_signed(ceremony["id"], unb64(ceremony["challenge"]), ceremony["audience"], "login")
    x509.load_der_x509_certificate(unb64(body["auth_certificate"])).public_key().verify(
        unb64(body["auth_signature"]), tbs, padding.PKCS1v15(), hashes.SHA256())
