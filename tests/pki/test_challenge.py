"""Challenge signatures with the authentication certificate: the sign-in hot path."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from madoguchi.pki import challenge, testing
from madoguchi.pki.validation import Verdict
from tests.pki.conftest_validation import der, raw_card_signer, world  # noqa: F401

DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _sign(key, message: bytes) -> bytes:
    """As the card does it: PKCS#1 v1.5 over the SHA-256 DigestInfo of the message."""
    return raw_card_signer(key)(DIGEST_INFO_PREFIX + hashlib.sha256(message).digest())


def test_valid_challenge(world):
    msg = b"madoguchi-login-v1" + os.urandom(32)
    r = challenge.verify_challenge(world.validator(), der(world.auth_cert), _sign(world.auth_key, msg), message=msg)
    assert r.ok and r.certificate.verdict is Verdict.VALID


def test_valid_challenge_by_digest(world):
    msg = os.urandom(64)
    r = challenge.verify_challenge(world.validator(), der(world.auth_cert), _sign(world.auth_key, msg),
                                   digest=hashlib.sha256(msg).digest())
    assert r.ok


def test_other_message_is_bad_signature(world):
    sig = _sign(world.auth_key, b"challenge A")
    r = challenge.verify_challenge(world.validator(), der(world.auth_cert), sig, message=b"challenge B")
    assert r.verdict is Verdict.BAD_SIGNATURE


def test_signed_by_another_key(world):
    msg = b"challenge"
    r = challenge.verify_challenge(world.validator(), der(world.auth_cert), _sign(world.other_key, msg), message=msg)
    assert r.verdict is Verdict.BAD_SIGNATURE


def test_signature_certificate_cannot_sign_in(world):
    msg = b"challenge"
    r = challenge.verify_challenge(world.validator(), der(world.sign_cert), _sign(world.sign_key, msg), message=msg)
    assert r.verdict is Verdict.WRONG_PURPOSE


def test_revoked_auth_certificate(world):
    v = world.validator(revoked_auth=[(world.auth_cert.serial_number, testing.now() - dt.timedelta(hours=1),
                                       x509.ReasonFlags.key_compromise)])
    msg = b"challenge"
    r = challenge.verify_challenge(v, der(world.auth_cert), _sign(world.auth_key, msg), message=msg)
    assert r.verdict is Verdict.REVOKED
    assert r.certificate.revocation.entry.reason == "keyCompromise"


def test_wrong_lengths_are_malformed(world):
    v = world.validator()
    msg = b"challenge"
    sig = _sign(world.auth_key, msg)
    for bad in (sig[:-1], sig + b"\x00", b"", b"\x00" * 5000):
        assert challenge.verify_challenge(v, der(world.auth_cert), bad, message=msg).verdict is Verdict.MALFORMED
    assert challenge.verify_challenge(v, der(world.auth_cert), sig, digest=b"\x00" * 31).verdict is Verdict.MALFORMED


def test_garbage_certificate(world):
    r = challenge.verify_challenge(world.validator(), b"\x30\x00", b"\x00" * 256, message=b"x")
    assert r.verdict is Verdict.MALFORMED


def test_pss_signature_refused(world):
    msg = b"challenge"
    pss = world.auth_key.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    r = challenge.verify_challenge(world.validator(), der(world.auth_cert), pss, message=msg)
    assert r.verdict is Verdict.BAD_SIGNATURE
