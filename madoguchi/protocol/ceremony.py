"""What a card signs in a ceremony (docs/ceremony.md is the specification; a test keeps
the document's example and this code in step).

For `login` the card signs, with PKCS#1 v1.5 over a SHA-256 DigestInfo,

    TBS = DOMAIN_PREFIX || DER(CeremonyBinding)

where CeremonyBinding ::= SEQUENCE { version INTEGER (1), ceremonyId UTF8String,
challenge OCTET STRING (32), audience UTF8String, purpose UTF8String }.

For `identify` both keys of the card sign one TBS that also names both certificates:

    TBS = DOMAIN_PREFIX || DER(IdentifyBinding)

IdentifyBinding ::= SEQUENCE { version INTEGER (2), ceremonyId, challenge, audience,
purpose ("identify"), authCertificateSha256 OCTET STRING (32), signCertificateSha256
OCTET STRING (32) }. Each signature thus commits to the other key's certificate: the two
were made by a client that had read both certificates, in one card session, and one card's
signature cannot be paired with another card's (issue 13).

For `sign` the CeremonyBinding (purpose "sign") travels as a signed attribute of the CMS
under OID_CEREMONY_BINDING; `presence` signs nothing.
"""

import hashlib

from asn1crypto import core

from madoguchi.pki.verify import OID_CEREMONY_BINDING, CeremonyBinding  # noqa: F401  (re-exported)

DOMAIN_PREFIX = b"madoguchi-ceremony-v1\x00"
PURPOSES = ("login", "identify", "sign", "presence")
CHALLENGE_BYTES = 32
IDENTIFY_VERSION = 2


class IdentifyBinding(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("ceremony_id", core.UTF8String),
        ("challenge", core.OctetString),
        ("audience", core.UTF8String),
        ("purpose", core.UTF8String),
        ("auth_certificate_sha256", core.OctetString),
        ("sign_certificate_sha256", core.OctetString),
    ]


def binding_der(ceremony_id: str, challenge: bytes, audience: str, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if len(challenge) != CHALLENGE_BYTES:
        raise ValueError("the challenge is 32 bytes")
    return CeremonyBinding({"version": 1, "ceremony_id": ceremony_id, "challenge": challenge,
                            "audience": audience, "purpose": purpose}).dump()


def identify_binding_der(ceremony_id: str, challenge: bytes, audience: str, auth_certificate: bytes,
                         sign_certificate: bytes) -> bytes:
    """IdentifyBinding over the DER of the card's two certificates (hashed here)."""
    return identify_binding_from_digests(ceremony_id, challenge, audience, hashlib.sha256(auth_certificate).digest(),
                                         hashlib.sha256(sign_certificate).digest())


def identify_binding_from_digests(ceremony_id: str, challenge: bytes, audience: str, auth_sha256: bytes,
                                  sign_sha256: bytes) -> bytes:
    if len(challenge) != CHALLENGE_BYTES:
        raise ValueError("the challenge is 32 bytes")
    if len(auth_sha256) != 32 or len(sign_sha256) != 32:
        raise ValueError("a certificate's SHA-256 is 32 bytes")
    return IdentifyBinding({
        "version": IDENTIFY_VERSION, "ceremony_id": ceremony_id, "challenge": challenge, "audience": audience,
        "purpose": "identify", "auth_certificate_sha256": auth_sha256, "sign_certificate_sha256": sign_sha256,
    }).dump()


def to_be_signed(ceremony_id: str, challenge: bytes, audience: str, purpose: str, *,
                 auth_certificate: bytes | None = None, sign_certificate: bytes | None = None) -> bytes:
    """The exact bytes the card signs for `login`, and — given both certificates' DER — for
    `identify` (both keys sign the same bytes)."""
    if purpose == "identify":
        if auth_certificate is None or sign_certificate is None:
            raise ValueError("identify signs both certificates: give auth_certificate and sign_certificate")
        return DOMAIN_PREFIX + identify_binding_der(ceremony_id, challenge, audience, auth_certificate,
                                                    sign_certificate)
    if auth_certificate is not None or sign_certificate is not None:
        raise ValueError(f"{purpose} signs no certificate")
    return DOMAIN_PREFIX + binding_der(ceremony_id, challenge, audience, purpose)
