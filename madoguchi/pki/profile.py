"""The JPKI certificate profile (../shared/design/JPKI.md §5) as far as a card needs it.

Unconfirmed facts are marked CHOICE; each lives in one function or constant here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

# subjectAltName otherName types of the signature certificate (基本4情報).
OID_NAME = ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_NAME_SUBSTITUTE = ObjectIdentifier("1.2.392.200149.8.5.5.2")
OID_SEX = ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_BIRTH = ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS = ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_ADDRESS_SUBSTITUTE = ObjectIdentifier("1.2.392.200149.8.5.5.6")

# CHOICE (unconfirmed, jsrsasign addon): certificate policies.
OID_POLICY_SIGN = ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
OID_POLICY_AUTH = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")

# CHOICE (unconfirmed: no real スマホ用電子証明書 has been examined, JPKI.md §7): the
# smartphone certificates (移動端末設備用電子証明書) are told from the card's by their
# certificate policy. Real ones are separately issued, with their own keys and PINs; the
# development CA marks its smartphone-profile certificates with these policies under the
# project arc (pki/verify.py PROJECT_ARC). An operator installing real J-LIS roots adds the
# real policy OIDs to SMARTPHONE_POLICIES once known.
OID_POLICY_SIGN_SMARTPHONE = ObjectIdentifier("2.25.145271929438307346753777071334681355435.2.1")
OID_POLICY_AUTH_SMARTPHONE = ObjectIdentifier("2.25.145271929438307346753777071334681355435.2.2")
SMARTPHONE_POLICIES = {OID_POLICY_SIGN_SMARTPHONE.dotted_string, OID_POLICY_AUTH_SMARTPHONE.dotted_string}

TOKEN_CARD = "card"
TOKEN_SMARTPHONE = "smartphone"

OU_AUTH = "JPKI for user authentication"
OU_SIGN = "JPKI for digital signature"
J_LIS_OU = "Japan Agency for Local Authority Information Systems"

# Substitute character for characters outside JIS X 0208 (〓, GETA MARK).
GETA = "\u3013"

# CHOICE: era digits of the date-of-birth value "E + YYYYMMDD" (ZeroKeyMate, unconfirmed):
# 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和; the year stays Gregorian (1990-01-02 → 419900102).
ERAS = (
    (dt.date(2019, 5, 1), 5),
    (dt.date(1989, 1, 8), 4),
    (dt.date(1926, 12, 25), 3),
    (dt.date(1912, 7, 30), 2),
    (dt.date(1868, 1, 25), 1),
)


def era_digit(birth: dt.date) -> int:
    for start, digit in ERAS:
        if birth >= start:
            return digit
    raise ValueError(f"{birth} is before the Meiji era")


def encode_birth(birth: dt.date) -> str:
    return f"{era_digit(birth)}{birth:%Y%m%d}"


def decode_birth(value: str) -> dt.date:
    digits = value[1:] if len(value) == 9 else value
    return dt.datetime.strptime(digits, "%Y%m%d").date()


def substitute(text: str) -> str:
    """The text with each character outside JIS X 0208 replaced by 〓 (CHOICE: always emitted)."""
    out = []
    for ch in text:
        try:
            ch.encode("iso2022_jp")
            out.append(ch)
        except UnicodeEncodeError:
            out.append(GETA)
    return "".join(out)


def nth_birthday_after(birth: dt.date, day: dt.date, n: int) -> dt.date:
    """The n-th birthday strictly after `day` (29 February → 28 February in common years)."""
    def birthday_in(year: int) -> dt.date:
        try:
            return birth.replace(year=year)
        except ValueError:
            return dt.date(year, 2, 28)

    first = birthday_in(day.year)
    if first <= day:
        first = birthday_in(day.year + 1)
    return birthday_in(first.year + n - 1)


# Not core.dates.JST: this pure library imports nothing of the Django apps.
JST = dt.timezone(dt.timedelta(hours=9))


def validity_end(birth: dt.date, issued: dt.datetime) -> dt.datetime:
    """End of the 5th birthday after issuance, 23:59:59 JST (CHOICE of the time of day)."""
    day = nth_birthday_after(birth, issued.astimezone(JST).date(), 5)
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=JST).astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class BasicFour:
    """基本4情報 as carried by a signature certificate or the text AP."""

    name: str
    address: str
    birth: dt.date
    sex: str  # "1" male, "2" female, "9" not applicable

    def __post_init__(self):
        if self.sex not in ("1", "2", "9"):
            raise ValueError(f"sex code must be 1, 2 or 9, not {self.sex!r}")


def other_name(oid: ObjectIdentifier, text: str) -> x509.OtherName:
    return x509.OtherName(oid, asn1.UTF8String(text).dump())


def san_for(facts: BasicFour) -> x509.SubjectAlternativeName:
    # CHOICE (unconfirmed): sex carried as the same one-digit code as on the text AP.
    return x509.SubjectAlternativeName([
        other_name(OID_NAME, facts.name),
        other_name(OID_NAME_SUBSTITUTE, substitute(facts.name)),
        other_name(OID_SEX, facts.sex),
        other_name(OID_BIRTH, encode_birth(facts.birth)),
        other_name(OID_ADDRESS, facts.address),
        other_name(OID_ADDRESS_SUBSTITUTE, substitute(facts.address)),
    ])


def facts_from_certificate(cert: x509.Certificate) -> BasicFour | None:
    """The basic four facts in a signature certificate, or None when it carries none."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    values: dict[str, str] = {}
    for entry in san.get_values_for_type(x509.OtherName):
        parsed = asn1.Asn1Value.load(entry.value)
        text = parsed.native if isinstance(parsed.native, str) else None
        if text is not None:
            values[entry.type_id.dotted_string] = text
    try:
        return BasicFour(
            name=values[OID_NAME.dotted_string],
            address=values[OID_ADDRESS.dotted_string],
            birth=decode_birth(values[OID_BIRTH.dotted_string]),
            sex=values[OID_SEX.dotted_string],
        )
    except (KeyError, ValueError):
        return None


def token_type(cert: x509.Certificate) -> str:
    """'smartphone' for a smartphone-profile certificate (SMARTPHONE_POLICIES), else 'card'."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except (x509.ExtensionNotFound, ValueError):
        return TOKEN_CARD
    if any(p.policy_identifier.dotted_string in SMARTPHONE_POLICIES for p in policies):
        return TOKEN_SMARTPHONE
    return TOKEN_CARD


def token_type_of_der(der: bytes) -> str:
    try:
        return token_type(x509.load_der_x509_certificate(der))
    except (ValueError, x509.InvalidVersion):
        return TOKEN_CARD
