"""SIP2 (3M Standard Interchange Protocol 2.00): the two messages madoguchi answers — Patron
Status Request (23) and Patron Status Response (24) — and Request SC Resend (96), with the
optional error detection (AY sequence number, AZ checksum). Pure: no Django, no I/O.

CHOICE: a small codec of our own rather than a dependency: the only SIP2 package for the
ACS side (pysip2 0.1.0, PyPI, Development Status 3 - Alpha, one release, msgspec + anyio)
is not on this machine and is not yet maintained long enough for a server component;
madoguchi needs two messages.

Checksum (spec, "Error detection"): the binary sum of every byte from the first byte of the
message through the characters "AZ", as a 16-bit two's complement, in four uppercase hex
digits; a receiver adds the message's bytes and the checksum's value: 0 (mod 2^16) is valid.
CHOICE: the text is UTF-8 (screen messages in Japanese); SIP2 names no character set."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

MAX_MESSAGE = 2048  # bytes up to the CR; SIP2 fields are at most 255 bytes
RESEND = b"96AZFEF6\r"  # Request SC Resend, with its checksum

_DATE = re.compile(rb"\d{8}[ 0-9A-Z]{4}\d{6}")
_LANG = re.compile(rb"\d{3}")
_TRAILER = re.compile(rb"(?:AY(\d))?AZ([0-9A-Fa-f]{4})\Z")


class SIP2Error(ValueError):
    """A message that cannot be read: the listener asks the SC to resend (96)."""


def checksum(data: bytes) -> str:
    """The checksum of `data` (the message from its first byte through "AZ")."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def checksum_ok(message: bytes) -> bool:
    """Whether a message ending in AZxxxx (no CR) carries the right checksum."""
    match = _TRAILER.search(message)
    if match is None:
        return False
    return (sum(message[:-4]) + int(match.group(2), 16)) & 0xFFFF == 0


def transaction_date(when: dt.datetime) -> str:
    """YYYYMMDDZZZZHHMMSS in UTC (the zone field "   Z", as the spec allows)."""
    when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y%m%d") + "   Z" + when.strftime("%H%M%S")


@dataclass(frozen=True)
class PatronStatusRequest:
    language: str
    transaction_date: str
    institution_id: str  # AO
    patron_identifier: str  # AA
    terminal_password: str  # AC
    patron_password: str  # AD
    sequence: str | None = None  # AY, when the SC uses error detection


def _fields(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for chunk in text.split("|"):
        if not chunk:
            continue
        if len(chunk) < 2 or not chunk[:2].isalpha() or not chunk[:2].isupper():
            raise SIP2Error(f"bad field {chunk[:10]!r}")
        out.setdefault(chunk[:2], []).append(chunk[2:])
    return out


def decode_request(frame: bytes) -> PatronStatusRequest:
    """A Patron Status Request (without its CR). A checksum, when present, must be right;
    anything else malformed raises SIP2Error."""
    if len(frame) > MAX_MESSAGE:
        raise SIP2Error("message too long")
    if b"\r" in frame or b"\n" in frame or b"\x00" in frame:
        raise SIP2Error("control characters in the message")
    sequence = None
    trailer = _TRAILER.search(frame)
    if trailer is not None:
        if not checksum_ok(frame):
            raise SIP2Error("bad checksum")
        sequence = trailer.group(1).decode() if trailer.group(1) else None
        frame = frame[:trailer.start()]
    elif frame.rsplit(b"|", 1)[-1].startswith((b"AY", b"AZ")):
        raise SIP2Error("malformed checksum")
    if frame[:2] != b"23":
        raise SIP2Error(f"not a patron status request: {frame[:2]!r}")
    if len(frame) < 23 or not _LANG.fullmatch(frame[2:5]) or not _DATE.fullmatch(frame[5:23]):
        raise SIP2Error("bad fixed fields")
    try:
        text = frame[23:].decode("utf-8")
    except UnicodeDecodeError:
        raise SIP2Error("not UTF-8") from None
    fields = _fields(text)
    for required in ("AO", "AA", "AC", "AD"):
        if required not in fields:
            raise SIP2Error(f"missing field {required}")
    first = {k: v[0] for k, v in fields.items()}
    return PatronStatusRequest(language=frame[2:5].decode(), transaction_date=frame[5:23].decode(),
                               institution_id=first["AO"], patron_identifier=first["AA"],
                               terminal_password=first["AC"], patron_password=first["AD"], sequence=sequence)


def command_of(frame: bytes) -> str:
    return frame[:2].decode("ascii", errors="replace")


# Patron status: 14 flags, "Y" or " " (spec 2.00): charge, renewal, recall, hold privileges
# denied, card reported lost, then item and fine limits madoguchi does not know.
DENIED = "YYYY" + " " * 10
LOST = "YYYYY" + " " * 9
ALLOWED = " " * 14


@dataclass(frozen=True)
class PatronStatusResponse:
    patron_status: str  # 14 characters
    language: str
    transaction_date: str
    institution_id: str  # AO
    patron_identifier: str  # AA
    personal_name: str = ""  # AE (required, may be empty: madoguchi releases no name)
    valid_patron: bool | None = None  # BL
    screen_messages: tuple[str, ...] = field(default=())  # AF
    sequence: str | None = None  # AY; the answer carries a checksum when the request did

    def encode(self) -> bytes:
        if len(self.patron_status) != 14 or len(self.language) != 3 or len(self.transaction_date) != 18:
            raise ValueError("bad fixed fields")
        parts = [("AO", self.institution_id), ("AA", self.patron_identifier), ("AE", self.personal_name)]
        if self.valid_patron is not None:
            parts.append(("BL", "Y" if self.valid_patron else "N"))
        parts += [("AF", m) for m in self.screen_messages]
        text = "24" + self.patron_status + self.language + self.transaction_date
        for name, value in parts:
            value = _clean(value)
            text += f"{name}{value}|"
        data = text.encode("utf-8")
        if self.sequence is not None:
            data += f"AY{self.sequence}AZ".encode()
            data += checksum(data).encode()
        return data + b"\r"


def _clean(value: str) -> str:
    """A field value: no delimiter or control characters, at most 255 bytes."""
    value = "".join(c for c in value if c != "|" and c >= " ")
    data = value.encode("utf-8")[:255]
    return data.decode("utf-8", errors="ignore")
