"""What a card signs in a ceremony (docs/ceremony.md is the specification; a test keeps
the document's example and this code in step).

For `login` and `identify` the card signs, with PKCS#1 v1.5 over a SHA-256 DigestInfo,

    TBS = DOMAIN_PREFIX || DER(CeremonyBinding)

where CeremonyBinding ::= SEQUENCE { version INTEGER (1), ceremonyId UTF8String,
challenge OCTET STRING (32), audience UTF8String, purpose UTF8String }. `identify` signs
the same TBS with the authentication key (PIN) and with the signature key (password).
For `sign` the same CeremonyBinding (purpose "sign") travels as a signed attribute of the
CMS under OID_CEREMONY_BINDING; `presence` signs nothing.
"""

from madoguchi.pki.verify import OID_CEREMONY_BINDING, CeremonyBinding  # noqa: F401  (re-exported)

DOMAIN_PREFIX = b"madoguchi-ceremony-v1\x00"
PURPOSES = ("login", "identify", "sign", "presence")
CHALLENGE_BYTES = 32


def binding_der(ceremony_id: str, challenge: bytes, audience: str, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if len(challenge) != CHALLENGE_BYTES:
        raise ValueError("the challenge is 32 bytes")
    return CeremonyBinding({"version": 1, "ceremony_id": ceremony_id, "challenge": challenge,
                            "audience": audience, "purpose": purpose}).dump()


def to_be_signed(ceremony_id: str, challenge: bytes, audience: str, purpose: str) -> bytes:
    """The exact bytes the card signs for `login` and `identify`."""
    return DOMAIN_PREFIX + binding_der(ceremony_id, challenge, audience, purpose)
