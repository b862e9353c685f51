"""The basic four facts (基本4情報) of a signature certificate as a typed record.

subjectAltName otherName OIDs 1.2.392.200149.8.5.5.1–.6 (JPKI.md §5). Values are kept
exactly as encoded — no Unicode normalisation, no width folding — so an IVS (variation
selector) or a rare kanji survives; the substitute-character variants (代替文字, with 〓 for
characters outside JIS X 0208) are surfaced beside them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from asn1crypto import core as acore
from cryptography import x509

from . import profile
from .errors import MalformedInput

OIDS = {
    profile.OID_NAME.dotted_string: "name",
    profile.OID_NAME_SUBSTITUTE.dotted_string: "name_substitute",
    profile.OID_SEX.dotted_string: "sex",
    profile.OID_BIRTH.dotted_string: "birth_raw",
    profile.OID_ADDRESS.dotted_string: "address",
    profile.OID_ADDRESS_SUBSTITUTE.dotted_string: "address_substitute",
}
SEX_LABELS = {"1": ("男", "male"), "2": ("女", "female"), "9": ("適用不能", "not applicable")}
_STRINGS = (acore.UTF8String, acore.PrintableString, acore.IA5String, acore.BMPString, acore.VisibleString)


@dataclass(frozen=True)
class SignatureFacts:
    name: str
    name_substitute: str | None
    address: str
    address_substitute: str | None
    birth: dt.date | None  # None when the encoded value is not a date we can read
    birth_raw: str  # as encoded, e.g. "419900102" (era digit + YYYYMMDD; CHOICE in profile.py)
    sex: str  # as encoded: "1", "2" or "9" (CHOICE, unconfirmed)

    @property
    def has_substitutes(self) -> bool:
        """True when a substitute variant differs from the name or address (a 外字 was replaced)."""
        return (self.name_substitute not in (None, self.name)) or \
            (self.address_substitute not in (None, self.address))

    @property
    def sex_label(self) -> tuple[str, str]:
        return SEX_LABELS.get(self.sex, ("不明", "unknown"))

    def as_dict(self) -> dict:
        out = asdict(self)
        out["birth"] = self.birth.isoformat() if self.birth else None
        out["has_substitutes"] = self.has_substitutes
        return out


def _text(value: bytes) -> str:
    try:
        parsed = acore.Asn1Value.load(value, strict=True)
    except (ValueError, TypeError) as exc:
        raise MalformedInput(f"otherName value does not parse: {exc}") from None
    if not isinstance(parsed, _STRINGS):
        # Untagged load gives a generic type for universal strings; retry as UTF8String.
        if parsed.tag != 12 or parsed.class_ != 0:
            raise MalformedInput("otherName value is not a character string")
        parsed = acore.UTF8String.load(value)
    try:
        text = parsed.native
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedInput(f"otherName value is not valid text: {exc}") from None
    if not isinstance(text, str):
        raise MalformedInput("otherName value is not a character string")
    return text


def from_certificate(cert: x509.Certificate) -> SignatureFacts | None:
    """The facts of a signature certificate; None when it carries none (an auth certificate)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:
        raise MalformedInput(f"subjectAltName does not parse: {exc}") from None
    values: dict[str, str] = {}
    for entry in san.get_values_for_type(x509.OtherName):
        field = OIDS.get(entry.type_id.dotted_string)
        if field is None:
            continue
        if field in values:
            raise MalformedInput(f"otherName {entry.type_id.dotted_string} appears twice")
        values[field] = _text(entry.value)
    if not values:
        return None
    missing = [f for f in ("name", "address", "birth_raw", "sex") if f not in values]
    if missing:
        raise MalformedInput(f"signature certificate lacks {', '.join(missing)}")
    try:
        birth = profile.decode_birth(values["birth_raw"])
    except ValueError:
        birth = None
    return SignatureFacts(
        name=values["name"], name_substitute=values.get("name_substitute"),
        address=values["address"], address_substitute=values.get("address_substitute"),
        birth=birth, birth_raw=values["birth_raw"], sex=values["sex"])
