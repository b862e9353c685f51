"""The text-input-support application (券面事項入力補助AP): its 4-digit PIN, the basic four
facts (EF 0002, FF20/DF21–DF25) and the individual number (EF 0001, FF10).

The individual number is read only by `individual_number()`, which a caller must call
explicitly; no other method returns it, and nothing here logs it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import apdu as A
from . import constants as C
from . import mynumber, tlv
from .jpki import PinStatus, _status, check_format
from .transport import Channel


@dataclass(frozen=True)
class BasicFacts:
    """基本4情報 as recorded on the card."""

    name: str       # family and given name separated by U+3000
    address: str
    birth: dt.date
    sex: str        # "1" male, "2" female, "9" not applicable

    @property
    def sex_label(self) -> str:
        return C.SEX_CODES[self.sex]


def decode_attributes(data: bytes) -> BasicFacts:
    """Decodes EF 0002 (filler after the record is ignored); raises MalformedAPDU."""
    tag, _constructed, content, _rest = tlv.parse_one(data)
    if tag != C.TAG_ATTRIBUTES:
        raise A.MalformedAPDU("attribute record is not an FF20 TLV")
    fields: dict[bytes, bytes] = {}
    for child_tag, value in tlv.parse_children(content):
        fields.setdefault(child_tag, value)
    try:
        name = fields[C.TAG_NAME].decode("utf-8")
        address = fields[C.TAG_ADDRESS].decode("utf-8")
        birth = dt.datetime.strptime(fields[C.TAG_BIRTH].decode("ascii"), "%Y%m%d").date()
        sex = fields[C.TAG_SEX].decode("ascii")
    except KeyError as exc:
        raise A.MalformedAPDU(f"attribute record lacks tag {exc.args[0].hex().upper()}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise A.MalformedAPDU(f"attribute record: {exc}") from None
    if sex not in C.SEX_CODES:
        raise A.MalformedAPDU(f"unknown sex code {sex!r}")
    return BasicFacts(name, address, birth, sex)


def decode_individual_number(data: bytes) -> str:
    tag, _constructed, content, _rest = tlv.parse_one(data)
    if tag != C.TAG_MYNUMBER:
        raise A.MalformedAPDU("individual-number record is not an FF10 TLV")
    try:
        number = content.decode("ascii")
    except UnicodeDecodeError:
        raise A.MalformedAPDU("individual number is not ASCII") from None
    if not mynumber.is_valid(number):
        raise A.MalformedAPDU("individual number has a wrong length or check digit")
    return number


class TextAP:
    def __init__(self, channel: Channel):
        self.channel = channel

    def select(self) -> None:
        self.channel.select_aid(C.AID_TEXT)

    def pin_status(self) -> PinStatus:
        self.select()
        self.channel.select_ef(C.EF_TEXT_PIN)
        return _status(self.channel.exchange(A.verify()))

    def verify(self, pin: str) -> None:
        data = check_format(C.TEXT_PIN, pin)
        self.select()
        self.channel.select_ef(C.EF_TEXT_PIN)
        self.channel.send(A.verify(data))

    def basic_facts(self, pin: str | None = None) -> BasicFacts:
        """The basic four facts; verifies `pin` first when given (else it must be verified)."""
        if pin is not None:
            self.verify(pin)
        else:
            self.select()
        return decode_attributes(self.channel.read_tlv_file(C.EF_TEXT_ATTRIBUTES))

    def individual_number(self, pin: str | None = None) -> str:
        """The 12-digit individual number. Ask for it only for a legal My Number task."""
        if pin is not None:
            self.verify(pin)
        else:
            self.select()
        return decode_individual_number(self.channel.read_tlv_file(C.EF_TEXT_MYNUMBER))

    def change_pin(self, old: str, new: str) -> None:
        new_data = check_format(C.TEXT_PIN, new)
        self.verify(old)
        self.channel.send(A.change_reference_data(new_data))
