"""Typed errors of certificate verification. Every parser in pki/ raises one of these on bad
input — never a bare ValueError, never a crash, never a silent pass."""

from __future__ import annotations


class PKIError(Exception):
    """Base class. `code` is stable and machine-readable; str(exc) is one line for the log."""

    code = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(" ".join(str(message).split()))  # always one line (asn1crypto's span several)
        if code is not None:
            self.code = code


class MalformedInput(PKIError):
    """Truncated, oversized, trailing garbage, wrong structure."""

    code = "malformed"


class UnsupportedAlgorithm(PKIError):
    """A digest or signature algorithm we refuse (SHA-1, MD5, PSS, DSA…)."""

    code = "unsupported_algorithm"


class CRLRejected(PKIError):
    """A well-formed CRL we will not use: unknown issuer, bad signature, expired, older than ours."""

    code = "crl_rejected"


class OCSPError(PKIError):
    """An OCSP response we will not use (bad signature, unauthorized responder, nonce mismatch…)."""

    code = "ocsp_rejected"


class TrustStoreError(PKIError):
    code = "trust_store"
