"""Challenge signatures: the hot path of sign-in.

The card signs a SHA-256 DigestInfo with PKCS#1 v1.5 (JPKI.md §3), which is exactly an
RSASSA-PKCS1-v1_5/SHA-256 signature over the signed bytes. The authentication certificate is
validated for purpose `auth` (cached: one hash and one dict probe on a repeat), then one RSA
verification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .validation import Result, Validator, Verdict

MAX_SIGNATURE_BYTES = 1024
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


@dataclass(frozen=True)
class ChallengeResult:
    verdict: Verdict
    certificate: Result

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID


def verify_challenge(validator: Validator, cert_der: bytes, signature: bytes, *, message: bytes | None = None,
                     digest: bytes | None = None, at: dt.datetime | None = None,
                     purpose: str = "auth") -> ChallengeResult:
    """Validates the certificate for `purpose`, then checks `signature` over `message` (or over
    a 32-byte SHA-256 `digest` of it). The verdict is the certificate's, or BAD_SIGNATURE."""
    if (message is None) == (digest is None):
        raise TypeError("give exactly one of message= or digest=")
    result, static = validator.validate_static(cert_der, purpose, at)
    if result.verdict is not Verdict.VALID:
        return ChallengeResult(result.verdict, result)
    key = static.public_key  # parsed once, cached with the certificate
    if not isinstance(key, rsa.RSAPublicKey):
        bad = replace(result, verdict=Verdict.MALFORMED, log="challenge signatures need an RSA key")
        return ChallengeResult(Verdict.MALFORMED, bad)
    if not isinstance(signature, bytes | bytearray) or len(signature) > MAX_SIGNATURE_BYTES or \
            len(signature) != (key.key_size + 7) // 8 or (digest is not None and len(digest) != 32):
        bad = replace(result, verdict=Verdict.MALFORMED, log="signature or digest of the wrong length")
        return ChallengeResult(Verdict.MALFORMED, bad)
    try:
        if digest is not None:
            key.verify(bytes(signature), bytes(digest), _PKCS1, Prehashed(_SHA256))
        else:
            key.verify(bytes(signature), bytes(message), _PKCS1, _SHA256)
    except InvalidSignature:
        bad = replace(result, verdict=Verdict.BAD_SIGNATURE, log="challenge signature does not verify")
        return ChallengeResult(Verdict.BAD_SIGNATURE, bad)
    return ChallengeResult(Verdict.VALID, result)
