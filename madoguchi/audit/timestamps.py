"""RFC 3161 time-stamps on audit checkpoints, where a TSA is configured (MADOGUCHI_AUDIT_TSA_URL).

pyHanko's RFC 3161 client asks the TSA for a token over SHA-256 of a checkpoint line's JWS
(header, detached payload's signature): the token proves the signed checkpoint existed at
the TSA's time, which the server's own clock cannot. Tokens are checked with pyHanko's
validator against MADOGUCHI_AUDIT_TSA_ROOTS (a PEM file of the TSA's roots), or the
system's trust roots when unset.
"""

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
from functools import lru_cache

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext


class TimestampError(RuntimeError):
    """The TSA could not be reached or gave no usable token."""


def enabled() -> bool:
    return bool(settings.AUDIT_TSA_URL)


def stamp(message: bytes) -> str:
    """A base64 DER TimeStampToken over SHA-256(message) from the configured TSA."""
    stamper = RequestsHTTPTimeStamper(settings.AUDIT_TSA_URL, timeout=settings.AUDIT_TSA_TIMEOUT)
    try:
        token = asyncio.run(stamper.async_timestamp(hashlib.sha256(message).digest(), "sha256"))
    except (TimestampRequestError, SigningError, OSError, ValueError) as exc:
        raise TimestampError(f"time-stamp authority {settings.AUDIT_TSA_URL}: {exc}") from None
    return base64.b64encode(token.dump()).decode("ascii")


@lru_cache(maxsize=4)
def _root_ders(path: str) -> tuple[bytes, ...]:
    if not path:
        return ()
    with open(path, "rb") as fh:
        data = fh.read()
    return tuple(der for _, _, der in pem.unarmor(data, multiple=True)) if pem.detect(data) else (data,)


def _roots(path: str) -> list:
    # Parsed afresh per call: asn1crypto objects parse lazily and are not safe to share
    # between threads (see documents.services._signers).
    return [asn1_x509.Certificate.load(der) for der in _root_ders(path)]


def check(message: bytes, token_b64: str) -> dt.datetime:
    """The TSA's time of a valid token over SHA-256(message); TimestampError otherwise."""
    try:
        token = cms.ContentInfo.load(base64.b64decode(token_b64, validate=True))
        signed_data = token["content"]
        roots = _roots(settings.AUDIT_TSA_ROOTS)
        context = ValidationContext(trust_roots=roots) if roots else ValidationContext()
        status = TimestampSignatureStatus(**asyncio.run(validate_tst_signed_data(
            signed_data, context, lambda algorithm: hashlib.new(algorithm, message).digest())))
    except (binascii.Error, ValueError, TypeError, KeyError, SignatureValidationError, OSError) as exc:
        raise TimestampError(f"the time-stamp token is unreadable or invalid ({exc.__class__.__name__})") from None
    if not status.intact:
        raise TimestampError("the time-stamp is not over this line")
    if not status.valid:
        raise TimestampError("the time-stamp's signature does not verify")
    if not status.trusted:
        raise TimestampError("the time-stamp authority is not trusted (MADOGUCHI_AUDIT_TSA_ROOTS)")
    return status.timestamp
