"""ISO/IEC 7816-4 command and response APDUs, status words and their typed errors.

Both sides use this module: the card client (encode commands, check responses) and the
virtual card (parse commands, answer with status words). Parsing never raises anything but
`MalformedAPDU` (a `CardError`), whatever bytes it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

# Status words (JPKI.md §3).
SW_OK = 0x9000
SW_EOF_WARNING = 0x6282          # end of file reached before Ne bytes were read
SW_WRONG_LENGTH = 0x6700
SW_INCOMPATIBLE_FILE = 0x6981    # command incompatible with file structure
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_BLOCKED = 0x6983         # generic ISO "authentication method blocked" (not used by the card)
SW_REF_DATA_BLOCKED = 0x6984     # the My Number Card answers this once a PIN is blocked
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_NO_CURRENT_EF = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FUNC_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_REF_DATA_NOT_FOUND = 0x6A88
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_SIGN = 0x2A            # JPKI "COMPUTE DIGITAL SIGNATURE" (CLA 80)
INS_GET_RESPONSE = 0xC0


class CardError(Exception):
    """Anything the card (or the data it returned) refused or could not do."""

    sw: int | None = None

    def __init__(self, message: str, sw: int | None = None):
        super().__init__(message)
        if sw is not None:
            self.sw = sw


class MalformedAPDU(CardError):
    """Bytes that are not a valid command or response APDU, or a malformed TLV / DER object."""


class WrongPin(CardError):
    """VERIFY failed; `tries_left` more wrong attempts are possible (63Cx, x ≥ 1)."""

    def __init__(self, tries_left: int, sw: int | None = None):
        super().__init__(f"wrong PIN: {tries_left} tries left", sw)
        self.tries_left = tries_left


class PinBlocked(CardError):
    """The PIN or password is blocked (6984, or 63C0 after the last wrong try)."""


class SecurityStatusNotSatisfied(CardError):
    """6982: the operation needs a PIN that has not been verified in this session."""


class FileNotFound(CardError):
    """6A82: no such application or file."""


class WrongParameters(CardError):
    """6A86 / 6700 / 6A80 / 6B00 / 6D00 / 6E00: the command was not understood."""


class UnexpectedStatus(CardError):
    """Any other status word."""


def sw_hex(sw: int) -> str:
    return f"{sw:04X}"


def error_for(sw: int) -> CardError | None:
    """The typed error for a status word, or None for 9000."""
    if sw == SW_OK:
        return None
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        left = sw2 & 0x0F
        if left == 0:
            return PinBlocked("PIN blocked (63C0)", sw)
        return WrongPin(left, sw)
    if sw in (SW_REF_DATA_BLOCKED, SW_AUTH_BLOCKED):
        return PinBlocked(f"PIN blocked ({sw_hex(sw)})", sw)
    if sw == SW_SECURITY_NOT_SATISFIED:
        return SecurityStatusNotSatisfied("security status not satisfied (6982)", sw)
    if sw == SW_FILE_NOT_FOUND:
        return FileNotFound("file or application not found (6A82)", sw)
    if sw in (SW_WRONG_P1P2, SW_WRONG_LENGTH, SW_WRONG_DATA, SW_WRONG_OFFSET,
              SW_INS_NOT_SUPPORTED, SW_CLA_NOT_SUPPORTED, SW_FUNC_NOT_SUPPORTED) or sw1 in (0x6B, 0x6C, 0x67):
        return WrongParameters(f"wrong parameters ({sw_hex(sw)})", sw)
    return UnexpectedStatus(f"unexpected status word {sw_hex(sw)}", sw)


@dataclass(frozen=True)
class Command:
    """A command APDU. `le` is Ne (1..65536) or None when no response data is expected."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self):
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise MalformedAPDU(f"{name} out of range: {value!r}")
        if len(self.data) > 65535:
            raise MalformedAPDU("command data longer than 65535 bytes")
        if self.le is not None and not 1 <= self.le <= 65536:
            raise MalformedAPDU(f"Le out of range: {self.le}")

    @property
    def extended(self) -> bool:
        return len(self.data) > 255 or (self.le is not None and self.le > 256)

    def to_bytes(self) -> bytes:
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        if not self.extended:
            body = b""
            if self.data:
                body += bytes([len(self.data)]) + self.data
            if self.le is not None:
                body += bytes([self.le & 0xFF])  # 256 → 00
            return header + body
        body = b"\x00"
        if self.data:
            body += len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            le = b"\x00\x00" if self.le == 65536 else self.le.to_bytes(2, "big")
            body += le
        return header + body

    @classmethod
    def parse(cls, raw: bytes) -> Command:
        """Parses cases 1–4, short and extended (ISO 7816-4 §5.1); raises MalformedAPDU."""
        raw = bytes(raw)
        if len(raw) < 4:
            raise MalformedAPDU(f"command APDU of {len(raw)} bytes (needs at least 4)", SW_WRONG_LENGTH)
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        n = len(body)
        if n == 0:
            return cls(cla, ins, p1, p2)
        if n == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:  # short with data
            lc = body[0]
            if n == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:])
            if n == 2 + lc:
                return cls(cla, ins, p1, p2, body[1:1 + lc], le=body[-1] or 256)
            raise MalformedAPDU(f"Lc={lc} does not match {n - 1} bytes of body", SW_WRONG_LENGTH)
        # body[0] == 0 and n >= 2: extended length
        if n == 3:
            le = int.from_bytes(body[1:3], "big") or 65536
            return cls(cla, ins, p1, p2, le=le)
        if n < 3:
            raise MalformedAPDU("truncated extended length", SW_WRONG_LENGTH)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise MalformedAPDU("extended Lc of zero", SW_WRONG_LENGTH)
        if n == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:])
        if n == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, body[3:3 + lc], le=le)
        raise MalformedAPDU(f"extended Lc={lc} does not match {n - 3} bytes of body", SW_WRONG_LENGTH)


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        raw = bytes(raw)
        if len(raw) < 2:
            raise MalformedAPDU(f"response APDU of {len(raw)} bytes (needs the 2-byte status word)")
        if len(raw) > 65538:
            raise MalformedAPDU("response APDU longer than 65536 data bytes")
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def check(self) -> bytes:
        """Returns the data on 9000, raises the typed error otherwise."""
        error = error_for(self.sw)
        if error is not None:
            raise error
        return self.data


# Command builders (JPKI.md §3).

def select_aid(aid: bytes) -> Command:
    return Command(CLA_ISO, INS_SELECT, 0x04, 0x0C, bytes(aid))


def select_ef(ef: int) -> Command:
    return Command(CLA_ISO, INS_SELECT, 0x02, 0x0C, ef.to_bytes(2, "big"))


def read_binary(offset: int, length: int) -> Command:
    """READ BINARY of the current EF; offset is 15 bits (P1 b8 = 0), length 1..256."""
    if not 0 <= offset <= 0x7FFF:
        raise MalformedAPDU(f"READ BINARY offset {offset} is not a 15-bit value")
    if not 1 <= length <= 256:
        raise MalformedAPDU(f"READ BINARY length {length} outside 1..256")
    return Command(CLA_ISO, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=length)


def verify(secret: bytes | None = None, sfi: int | None = None) -> Command:
    """VERIFY of the current PIN EF (P2=80) or of the PIN with short EF id `sfi`; no data → retry counter."""
    p2 = 0x80 | (sfi or 0)
    return Command(CLA_ISO, INS_VERIFY, 0x00, p2, bytes(secret or b""))


def change_reference_data(new: bytes, sfi: int | None = None) -> Command:
    """CHANGE REFERENCE DATA, P1=01: only the new value (the old one was verified before)."""
    return Command(CLA_ISO, INS_CHANGE_REFERENCE_DATA, 0x01, 0x80 | (sfi or 0), bytes(new))


def sign(digest_info: bytes, sfi: int | None = None) -> Command:
    """JPKI COMPUTE SIGNATURE: the card pads `digest_info` (PKCS#1 v1.5 type 1) and signs it."""
    return Command(CLA_PROPRIETARY, INS_SIGN, 0x00, 0x80 | (sfi or 0), bytes(digest_info), le=256)
