"""Shared material for the issue-4 tests (imported explicitly; not a conftest.py).

One auth CA and one sign CA (JPKI-TEST), a card's two keys and certificates, and the J-LIS
roots from ../shared/data/jpki-roots beside the checkout (public data the project must not
copy in): tests needing them skip without them locally, and fail under CI=true, as the
PC/SC and OpenSC tests do. RSA key generation is slow: session scope.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from madoguchi.pki import crlindex, profile, testing, trust, validation

# <checkout>/../shared/data/jpki-roots (this file is <checkout>/tests/pki/conftest_validation.py).
JLIS_ROOTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "jpki-roots"
JLIS_ROOT_FILES = ("auth_ca_2015.pem", "auth_ca_2023.pem", "sign_ca_2015.pem", "sign_ca_2023.pem")


@pytest.fixture
def jlis_roots() -> Path:
    """The J-LIS roots' directory; a missing one skips locally and fails under CI=true."""
    missing = [name for name in JLIS_ROOT_FILES if not (JLIS_ROOTS / name).is_file()]
    if missing:
        reason = f"J-LIS roots missing in {JLIS_ROOTS}: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)
    return JLIS_ROOTS
DER = serialization.Encoding.DER
HOLDER = profile.BasicFour(name="窓口\u3000花子", address="東京都千代田区霞が関２丁目１番２号",
                           birth=dt.date(1990, 1, 2), sex="2")


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(DER)


def crl_der(c: x509.CertificateRevocationList) -> bytes:
    return c.public_bytes(DER)


def card_signer(key: rsa.RSAPrivateKey):
    """The virtual card's behaviour (madoguchi.card.virtual.pkcs1_sign): a SHA-256 DigestInfo
    is signed as the standard PKCS#1 v1.5 encoding of that digest."""
    def sign(digest_info: bytes) -> bytes:
        info = algos.DigestInfo.load(digest_info)
        assert info["digest_algorithm"]["algorithm"].native == "sha256"
        return key.sign(info["digest"].native, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    return sign


def raw_card_signer(key: rsa.RSAPrivateKey):
    """A real card: PKCS#1 v1.5 type-1 padding of exactly the bytes given, raised to d."""
    def sign(data: bytes) -> bytes:
        k = (key.key_size + 7) // 8
        em = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
        n = key.private_numbers()
        return pow(int.from_bytes(em, "big"), n.d, n.public_numbers.n).to_bytes(k, "big")
    return sign


@dataclass
class World:
    auth_ca: testing.CA
    sign_ca: testing.CA
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey
    auth_cert: x509.Certificate
    sign_cert: x509.Certificate
    other_key: rsa.RSAPrivateKey

    def trust(self) -> trust.TrustStore:
        store = trust.TrustStore()
        store.add(self.auth_ca.cert, "auth")
        store.add(self.sign_ca.cert, "sign")
        return store

    def revocation(self, revoked_auth=(), revoked_sign=(), store=None) -> crlindex.RevocationStore:
        store = store or crlindex.RevocationStore()
        ts = self.trust()
        store.import_crl(crl_der(testing.crl(self.auth_ca, revoked_auth)), ts)
        store.import_crl(crl_der(testing.crl(self.sign_ca, revoked_sign)), ts)
        return store

    def validator(self, revoked_auth=(), revoked_sign=(), **kw) -> validation.Validator:
        return validation.Validator(self.trust(), self.revocation(revoked_auth, revoked_sign), **kw)


@pytest.fixture(scope="session")
def world() -> World:
    auth_ca, sign_ca = testing.make_ca("auth"), testing.make_ca("sign")
    auth_key, sign_key = testing.key(), testing.key()
    return World(auth_ca, sign_ca, auth_key, sign_key,
                 testing.issue(auth_ca, auth_key.public_key()),
                 testing.issue(sign_ca, sign_key.public_key(), facts=HOLDER),
                 testing.key())
