"""Are an authentication and a signature certificate from one card? What the certificates
let a verifier check (docs/ceremony.md, "One card"). Pure: no Django.

The J-LIS profile puts no identifier common to a card's two certificates (the authentication
subject is an opaque id, the signature subject a timestamp + sequence + office code, the
serials are independent: JPKI.md §5), so what is left is how they were issued:

- by the authentication CA and the signature CA of one generation (J-LIS starts and ends
  each pair on the same day: 2015-10-20/2025-10-19, 2023-07-16/2033-07-15);
- in one issuance: notBefore within ISSUANCE_TOLERANCE of each other, and the same last day
  of validity (both end on the holder's 5th birthday after issuance, the signature
  certificate is capped by the authentication certificate's end).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from .profile import JST

# CHOICE: 10 minutes. A card's two certificates are written in one issuing session at the
# window (both keys generated, both certificates issued); 10 minutes covers a slow session
# and clock skew between the two CAs, and keeps the chance that two people's cards were
# issued that close together (and end on the same day) small.
ISSUANCE_TOLERANCE = dt.timedelta(minutes=10)
# The two CAs of one J-LIS generation begin within an hour of each other and end on the
# same second; a day separates generations by years.
GENERATION_TOLERANCE = dt.timedelta(days=1)

# Why a pair is refused (audited as such; never personal data).
CA_GENERATION = "ca_generation"
NOT_AFTER = "not_after"
NOT_BEFORE = "not_before"


def _close(a: dt.datetime, b: dt.datetime, tolerance: dt.timedelta) -> bool:
    return abs(a - b) <= tolerance


def same_generation(auth_ca: x509.Certificate, sign_ca: x509.Certificate) -> bool:
    return (_close(auth_ca.not_valid_before_utc, sign_ca.not_valid_before_utc, GENERATION_TOLERANCE)
            and _close(auth_ca.not_valid_after_utc, sign_ca.not_valid_after_utc, GENERATION_TOLERANCE))


def last_day(cert: x509.Certificate) -> dt.date:
    """The last day of validity as J-LIS counts it (Japan time)."""
    return cert.not_valid_after_utc.astimezone(JST).date()


def mismatch(auth: x509.Certificate, auth_ca: x509.Certificate, sign: x509.Certificate,
             sign_ca: x509.Certificate, tolerance: dt.timedelta = ISSUANCE_TOLERANCE) -> str | None:
    """None when the two certificates can be one card's; else the first reason they cannot
    (CA_GENERATION, NOT_AFTER, NOT_BEFORE). `auth_ca`/`sign_ca` are the issuing CAs the
    validator found for each."""
    if not same_generation(auth_ca, sign_ca):
        return CA_GENERATION
    if last_day(auth) != last_day(sign):
        return NOT_AFTER
    if not _close(auth.not_valid_before_utc, sign.not_valid_before_utc, tolerance):
        return NOT_BEFORE
    return None
