"""The text-input-support application (券面事項入力補助AP): its 4-digit PIN, the basic four
facts (EF 0002, FF20/DF21–DF25) and the individual number (EF 0001, FF10).

The basic four facts open with the 4-digit PIN or with 照合番号B (key 0015: the 14 digits
derived from what is printed on the card, `face.code_b`) — the route for a counter that has
the card in hand but not the resident's PIN. 照合番号B does not open the individual number.

The integrity record (EF 0003, `verify_text_record`) authenticates the basic four facts as
text: it holds the SHA-256 of EF 0001 and of EF 0002 from DF22 on, signed (PKCS#1 v1.5) by
the key the AP's CV certificate (EF 0004) certifies — the same two links as the card face
AP (`face.verify_card_face`), under the same configured issuer keys. CHOICE (the sources
give the record's layout, not what DF33 signs): the signature covers a DigestInfo whose
digest is DF31's value followed by DF32's (64 bytes), as the card face's three segments;
"from DF22 on" ends where the FF20 record ends (the filler is not covered). DF31 is a
digest of the individual number — a 12-digit number with a check digit can be found from it
by trying them all — so the integrity record is personal data: verified and thrown away,
never stored.

The individual number is read only by `individual_number()`, which a caller must call
explicitly; no other method returns it, and nothing here logs it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import apdu as A
from . import constants as C
from . import mynumber, tlv
from .face import CardFaceError, CvCertificate
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


def attributes_span(data: bytes) -> bytes:
    """EF 0002 from DF22 (the name) to the end of the FF20 record: what DF32 digests."""
    tag, _constructed, content, _rest = tlv.parse_one(data)
    if tag != C.TAG_ATTRIBUTES:
        raise A.MalformedAPDU("attribute record is not an FF20 TLV")
    start = content.find(C.TAG_NAME)
    children = list(tlv.parse_children(content))
    if not children or children[0][0] != C.TAG_OFFSETS or start < 0:
        raise A.MalformedAPDU("attribute record: no DF21 offsets before DF22")
    offsets_len = len(tlv.emit(C.TAG_OFFSETS, children[0][1]))
    return content[offsets_len:]


@dataclass(frozen=True)
class Integrity:
    """EF 0003 as parsed, not yet verified."""

    mynumber_digest: bytes
    attributes_digest: bytes
    signature: bytes

    def digest_info(self) -> bytes:
        return integrity_digest_info(self.mynumber_digest, self.attributes_digest)


def integrity_digest_info(mynumber_digest: bytes, attributes_digest: bytes) -> bytes:
    from asn1crypto import algos

    return algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"},
                             "digest": mynumber_digest + attributes_digest}).dump()


def integrity_record(mynumber_file: bytes, attributes_file: bytes, sign) -> bytes:
    """EF 0003 for the virtual card; `sign(digest_info) -> signature` (PKCS#1 v1.5, raw)."""
    import hashlib

    d31 = hashlib.sha256(mynumber_file).digest()
    d32 = hashlib.sha256(attributes_span(attributes_file)).digest()
    return tlv.emit(C.TAG_INTEGRITY, tlv.emit(C.TAG_MYNUMBER_DIGEST, d31) + tlv.emit(C.TAG_ATTRIBUTES_DIGEST, d32)
                    + tlv.emit(C.TAG_INTEGRITY_SIGNATURE, sign(integrity_digest_info(d31, d32))))


def decode_integrity(data: bytes) -> Integrity:
    try:
        tag, _constructed, content, _rest = tlv.parse_one(data)
        if tag != C.TAG_INTEGRITY:
            raise CardFaceError("text AP integrity record: not an FF30 TLV")
        fields: dict[bytes, bytes] = {}
        for child_tag, value in tlv.parse_children(content):
            if child_tag in fields:
                raise CardFaceError(f"text AP integrity record: tag {child_tag.hex().upper()} twice")
            fields[child_tag] = value
    except A.MalformedAPDU as exc:
        raise CardFaceError(f"text AP integrity record: {exc}") from None
    try:
        record = Integrity(fields[C.TAG_MYNUMBER_DIGEST], fields[C.TAG_ATTRIBUTES_DIGEST],
                           fields[C.TAG_INTEGRITY_SIGNATURE])
    except KeyError as exc:
        raise CardFaceError(f"text AP integrity record: no tag {exc.args[0].hex().upper()}") from None
    if len(record.mynumber_digest) != 32 or len(record.attributes_digest) != 32:
        raise CardFaceError("text AP integrity record: a digest is not 32 bytes (SHA-256)")
    return record


def verify_text_record(attributes: bytes, integrity: bytes, cv_certificate: bytes, issuer_keys) -> BasicFacts:
    """The basic four facts, once the integrity record verifies under the key the AP's CV
    certificate certifies (itself verified under `issuer_keys`) and its DF32 is the digest of
    `attributes`. Raises CardFaceError (or MalformedAPDU for an unreadable record)."""
    import hashlib

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    signer = CvCertificate.parse(cv_certificate).verify(issuer_keys)
    record = decode_integrity(integrity)
    try:
        recovered = signer.recover_data_from_signature(record.signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        recovered = None
    if recovered != record.digest_info():
        raise CardFaceError("text AP integrity record: signature does not verify with the key of the CV certificate")
    if hashlib.sha256(attributes_span(attributes)).digest() != record.attributes_digest:
        raise CardFaceError("text AP basic four facts: not the ones the integrity record covers (altered)")
    return decode_attributes(attributes)


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

    def code_b_status(self) -> PinStatus:
        """Tries left of 照合番号B (key 0015), by an empty VERIFY; consumes no try."""
        self.select()
        self.channel.select_ef(C.EF_TEXT_CODE_B)
        return _status(self.channel.exchange(A.verify()))

    def verify_code_b(self, code: str) -> None:
        from .face import check_code

        data = check_code(C.CODE_B, code)
        self.select()
        self.channel.select_ef(C.EF_TEXT_CODE_B)
        self.channel.send(A.verify(data))

    def basic_facts_with_code_b(self, code: str) -> BasicFacts:
        """The basic four facts after VERIFY of 照合番号B (no PIN needed)."""
        self.verify_code_b(code)
        return decode_attributes(self.channel.read_tlv_file(C.EF_TEXT_ATTRIBUTES))

    def basic_facts(self, pin: str | None = None) -> BasicFacts:
        """The basic four facts; verifies `pin` first when given (else it must be verified)."""
        if pin is not None:
            self.verify(pin)
        else:
            self.select()
        return decode_attributes(self.channel.read_tlv_file(C.EF_TEXT_ATTRIBUTES))

    def read_integrity(self) -> bytes:
        """EF 0003 (after the PIN or a 照合番号): verify it, then forget it (see the module doc)."""
        self.select()
        return self.channel.read_tlv_file(C.EF_TEXT_INTEGRITY)

    def read_cv_certificate(self) -> bytes:
        self.select()
        return self.channel.read_tlv_file(C.EF_TEXT_CV_CERT)

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
