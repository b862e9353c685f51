"""The card face application (券面事項確認AP, JPKI.md §2.3): what is printed on the front of
the card — birth date, sex, expiry, the name and address as printed, the face photo and the
security code — read after VERIFY of 照合番号B (or of 照合番号A, for My Number tasks only),
and checked for authenticity before anything is returned.

Authenticity, in two links, both checked by `verify_card_face`:

1. The AP's card-verifiable certificate (EF 0004, `7F21{5F4E body, 5F37 signature}`) is
   checked against the issuer public key it names (証明者鍵ID) in the caller's configuration.
   The key never comes from the card: a certificate checked with a key taken off the same
   card proves nothing. Production CV certificates name J-LIS keys ("5000023…" for this AP);
   **those issuer public keys are not published**, so a deployment that wants to check real
   cards must obtain them from J-LIS. In development the demo issuer of the virtual card
   (`virtual.face_issuer`) is configured instead.
2. The record (EF 0002) is checked with the key the CV certificate certifies: PKCS#1 v1.5
   over a SHA-256 DigestInfo whose digest is three concatenated SHA-256 digests, one per
   segment — DF22‖DF23‖DF24, DF25‖DF26, DF27 (each object with its tag and length, as on the
   card). DF29 (expiry) and DF2A (the security code image) come after the signature and are
   not covered by it; the expiry *year* is checked against the 照合番号B the card accepted,
   the month and day and DF2A are not authenticated by anything.

CHOICE (name and address as text): the real card holds the name and address here only as
images (DF25/DF26), and a program cannot read an image back into text reliably. The same
照合番号B also opens the text-input-support AP's 基本4情報 (text AP EF 0002, key 0015), which
has them as text. So `FaceAP.read(..., text=True)` reads both, and refuses the result when the
text AP's birth date or sex disagree with the signed card face. The text fields are *not*
covered by the card face signature (the text AP has an integrity record of its own, EF 0003,
checked by `text.verify_text_record`, not here): `CardFace.name` and `.address` say what the
card's text AP says; the images are what the signature covers.

The card's own key (DF24) is the one a terminal would challenge (GET CHALLENGE + the AP
signing it) to prove the card is present rather than a copy of its files; that challenge is
not implemented here.

Pure library: no Django. Every refusal of the data is a `CardFaceError` naming what failed;
every malformed argument is a `ValueError` raised before anything reaches the card.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import apdu as A
from . import constants as C
from . import tlv
from .jpki import InvalidPinFormat, PinStatus, _status
from .transport import Channel, TransportError

KEY_ID_LENGTH = 16
CV_BODY_LENGTH = 297  # 16 + 16 + 265 (an RSA-2048 key as 90/91)
RSA_BITS = 2048

# The objects of the card face record, in order, and the three segments the signature covers.
FACE_TAGS = (C.TAG_FACE_BIRTH, C.TAG_FACE_SEX, C.TAG_FACE_KEY, C.TAG_FACE_NAME_IMAGE,
             C.TAG_FACE_ADDRESS_IMAGE, C.TAG_FACE_PHOTO, C.TAG_FACE_SIGNATURE, C.TAG_FACE_EXPIRY,
             C.TAG_FACE_CODE_IMAGE)
SIGNED_SEGMENTS = ((C.TAG_FACE_BIRTH, C.TAG_FACE_SEX, C.TAG_FACE_KEY),
                   (C.TAG_FACE_NAME_IMAGE, C.TAG_FACE_ADDRESS_IMAGE),
                   (C.TAG_FACE_PHOTO,))

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # JPEG 2000 in the JP2 container
J2K_SIGNATURE = b"\xff\x4f\xff\x51"                # a bare JPEG 2000 codestream (SOC, SIZ)


class CardFaceError(A.CardError):
    """The card face data, or its certificate, is not authentic or not well formed."""


# -- 照合番号B ---------------------------------------------------------------------------

def era_yymmdd(birth: dt.date) -> str:
    """生年月日 as 和暦 YYMMDD: 1980-02-17 → "550217" (昭和55), 2019-05-01 → "010501" (令和1)."""
    from madoguchi.pki.profile import ERAS  # the one era table of the pure libraries

    if not isinstance(birth, dt.date) or isinstance(birth, dt.datetime):
        raise ValueError(f"birth date must be a date, not {type(birth).__name__}")
    for start, _digit in ERAS:
        if birth >= start:
            year = birth.year - start.year + 1
            if year > 99:
                raise ValueError(f"{birth}: era year {year} does not fit in two digits")
            return f"{year:02d}{birth:%m%d}"
    raise ValueError(f"{birth} is before the Meiji era")


def code_b(birth: dt.date, expiry_year: int, security_code: str) -> str:
    """照合番号B: birth date as era YYMMDD + the card's expiry year (4 digits, Gregorian) + the
    4-digit security code printed on the card = 14 digits.

    1980-02-17, 2035, "2285" → "55021720352285" (JPKI.md §2.3).
    """
    if isinstance(expiry_year, bool) or not isinstance(expiry_year, int) or not 1000 <= expiry_year <= 9999:
        raise ValueError(f"expiry year must be a 4-digit year, not {expiry_year!r}")
    if not isinstance(security_code, str) or not (len(security_code) == 4 and security_code.isascii()
                                                  and security_code.isdigit()):
        raise ValueError("security code must be 4 digits (セキュリティコード, printed on the card)")
    return f"{era_yymmdd(birth)}{expiry_year:04d}{security_code}"


def check_code(policy: C.PinPolicy, value) -> bytes:
    """The code as ASCII bytes, or InvalidPinFormat (a ValueError) saying what is wrong with it."""
    label = "照合番号A" if policy in (C.CODE_A, C.FACE_CODE_A) else "照合番号B"
    if not isinstance(value, str):
        raise InvalidPinFormat(f"{label} must be a string of {policy.description}, not {type(value).__name__}")
    if not value:
        raise InvalidPinFormat(f"{label} must be {policy.description}, got nothing")
    if not (value.isascii() and value.isdigit()):
        raise InvalidPinFormat(f"{label} must be {policy.description} (only 0-9), got a non-digit")
    if not policy.valid(value):
        raise InvalidPinFormat(f"{label} must be {policy.description}, got {len(value)}")
    return value.encode("ascii")


# -- key identifiers, RSA keys, the CV certificate ------------------------------------------

def key_id(number: str, group: str = "001") -> bytes:
    """A 16-byte key identifier: 7 digits, 08 05, 3 digits, 4 bytes of padding (soltia data.rs).
    Production ids start with 5, J-LIS test ids with 6."""
    if not (len(number) == 7 and number.isdigit() and len(group) == 3 and group.isdigit()):
        raise ValueError("a key id is 7 digits and a 3-digit group")
    return number.encode("ascii") + b"\x08\x05" + group.encode("ascii") + bytes(4)


def key_id_text(value: bytes) -> str:
    """"9000023/001" — the two digit groups, or the hex when the id is not shaped like one."""
    value = bytes(value)
    if len(value) == KEY_ID_LENGTH and value[:7].isdigit() and value[9:12].isdigit():
        return f"{value[:7].decode()}/{value[9:12].decode()}"
    return value.hex().upper()


def encode_rsa_key(key: rsa.RSAPublicKey) -> bytes:
    """The card's encoding of an RSA public key: 90 exponent, 91 modulus."""
    numbers = key.public_numbers()
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    n = numbers.n.to_bytes((key.key_size + 7) // 8, "big")
    return tlv.emit(C.TAG_RSA_EXPONENT, e) + tlv.emit(C.TAG_RSA_MODULUS, n)


def decode_rsa_key(data: bytes, what: str) -> rsa.RSAPublicKey:
    fields: dict[bytes, bytes] = {}
    try:
        for tag, value in tlv.parse_children(data):
            if tag in fields:
                raise CardFaceError(f"{what}: tag {tag.hex().upper()} twice")
            fields[tag] = value
    except A.MalformedAPDU as exc:
        raise CardFaceError(f"{what}: {exc}") from None
    if set(fields) != {C.TAG_RSA_EXPONENT, C.TAG_RSA_MODULUS}:
        raise CardFaceError(f"{what}: not an RSA key (tags 90 and 91)")
    e = int.from_bytes(fields[C.TAG_RSA_EXPONENT], "big")
    n = int.from_bytes(fields[C.TAG_RSA_MODULUS], "big")
    if n.bit_length() != RSA_BITS:
        raise CardFaceError(f"{what}: an RSA key of {n.bit_length()} bits (the card's are {RSA_BITS})")
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise CardFaceError(f"{what}: unusable RSA key ({exc})") from None


@dataclass(frozen=True)
class CvCertificate:
    """A card-verifiable certificate: `issuer_key_id` (証明者鍵ID) certifies `public_key` under
    `subject_key_id` (被証明者鍵ID) with a PKCS#1 v1.5 SHA-256 signature over the 297-byte body."""

    issuer_key_id: bytes
    subject_key_id: bytes
    public_key: rsa.RSAPublicKey
    body: bytes
    signature: bytes

    @classmethod
    def parse(cls, data: bytes) -> CvCertificate:
        try:
            tag, _constructed, content, _rest = tlv.parse_one(data)
            if tag != C.TAG_CV_CERT:
                raise CardFaceError(f"CV certificate: tag {tag.hex().upper()}, expected 7F21")
            children = dict(tlv.parse_children(content))
        except A.MalformedAPDU as exc:
            raise CardFaceError(f"CV certificate: {exc}") from None
        body, signature = children.get(C.TAG_CV_BODY), children.get(C.TAG_CV_SIGNATURE)
        if body is None or signature is None:
            raise CardFaceError("CV certificate: no body (5F4E) or no signature (5F37)")
        if len(body) != CV_BODY_LENGTH:
            raise CardFaceError(f"CV certificate: body of {len(body)} bytes, expected {CV_BODY_LENGTH}")
        public_key = decode_rsa_key(body[2 * KEY_ID_LENGTH:], "CV certificate key")
        return cls(body[:KEY_ID_LENGTH], body[KEY_ID_LENGTH:2 * KEY_ID_LENGTH], public_key, body, signature)

    def verify(self, issuer_keys: Mapping[bytes, rsa.RSAPublicKey]) -> rsa.RSAPublicKey:
        """The certified key, once the signature verifies under the configured issuer key."""
        issuer = issuer_keys.get(self.issuer_key_id)
        if issuer is None:
            raise CardFaceError(
                f"CV certificate: issuer key {key_id_text(self.issuer_key_id)} is not configured "
                f"(configured: {', '.join(map(key_id_text, issuer_keys)) or 'none'}; "
                f"J-LIS does not publish the production issuer keys)")
        try:
            issuer.verify(self.signature, self.body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise CardFaceError(f"CV certificate: signature does not verify under issuer key "
                                f"{key_id_text(self.issuer_key_id)}") from None
        return self.public_key


def sign_cv_body(issuer_key: rsa.RSAPrivateKey, body: bytes) -> bytes:
    """7F21{5F4E body, 5F37 signature}, signed by `issuer_key` (the virtual card's issuer)."""
    signature = issuer_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return tlv.emit(C.TAG_CV_CERT, tlv.emit(C.TAG_CV_BODY, body) + tlv.emit(C.TAG_CV_SIGNATURE, signature))


def cv_body(issuer_key_id: bytes, subject_key_id: bytes, public_key: rsa.RSAPublicKey) -> bytes:
    body = bytes(issuer_key_id) + bytes(subject_key_id) + encode_rsa_key(public_key)
    if len(body) != CV_BODY_LENGTH:
        raise ValueError(f"a CV certificate body is {CV_BODY_LENGTH} bytes (RSA-2048), not {len(body)}")
    return body


# -- the card face record -----------------------------------------------------------------

def segments_digest_info(segments: list[bytes] | tuple[bytes, ...]) -> bytes:
    """The DigestInfo the record's signature covers: SHA-256 OID + the concatenated SHA-256 of
    each segment (96 bytes for three). Not a standard DigestInfo, so it is compared whole."""
    digest = b"".join(hashlib.sha256(segment).digest() for segment in segments)
    return algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"}, "digest": digest}).dump()


@dataclass(frozen=True)
class FaceRecord:
    """EF 0002 as parsed, not yet verified."""

    birth: dt.date
    sex: str
    card_key: rsa.RSAPublicKey
    name_image: bytes
    address_image: bytes
    photo: bytes
    signature: bytes
    expiry: dt.date
    security_code_image: bytes
    segments: tuple[bytes, bytes, bytes]


def _date(value: bytes, what: str) -> dt.date:
    try:
        text = value.decode("ascii")
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except (UnicodeDecodeError, ValueError):
        raise CardFaceError(f"card face record: {what} {value!r} is not a YYYYMMDD date") from None


def parse_face_record(data: bytes) -> FaceRecord:
    """Parses EF 0002 (filler after the record is ignored) and checks its DF21 offset table."""
    try:
        tag, _constructed, content, rest = tlv.parse_one(data)
    except A.MalformedAPDU as exc:
        raise CardFaceError(f"card face record: {exc}") from None
    if tag != C.TAG_FACE:
        raise CardFaceError(f"card face record: tag {tag.hex().upper()}, expected FF20")
    position = len(data) - len(rest) - len(content)  # the outer header's length
    offsets: bytes | None = None
    objects: dict[bytes, tuple[int, bytes, bytes]] = {}  # tag → (offset, raw TLV, value)
    remaining = content
    try:
        while remaining.strip(b"\xff\x00"):
            child, _c, value, after = tlv.parse_one(remaining)
            raw = remaining[:len(remaining) - len(after)]
            if child == C.TAG_FACE_OFFSETS and offsets is None and not objects:
                offsets = value
            elif child in FACE_TAGS and child not in objects:
                objects[child] = (position, raw, value)
            else:
                raise CardFaceError(f"card face record: unexpected or repeated tag {child.hex().upper()}")
            position += len(raw)
            remaining = after
    except A.MalformedAPDU as exc:
        raise CardFaceError(f"card face record: {exc}") from None
    missing = [t.hex().upper() for t in FACE_TAGS if t not in objects]
    if offsets is None or missing:
        raise CardFaceError(f"card face record lacks {', '.join((['DF21'] if offsets is None else []) + missing)}")
    order = sorted(objects, key=lambda t: objects[t][0])
    if len(offsets) != 2 * len(order):
        raise CardFaceError(f"card face record: offset table of {len(offsets)} bytes for {len(order)} objects")
    for i, t in enumerate(order):
        declared = int.from_bytes(offsets[2 * i:2 * i + 2], "big")
        if declared != objects[t][0]:
            raise CardFaceError(f"card face record: offset {i} says {declared}, but {t.hex().upper()} "
                                f"starts at {objects[t][0]}")
    values = {t: v for t, (_o, _r, v) in objects.items()}
    sex = values[C.TAG_FACE_SEX].decode("ascii", "replace")
    if sex not in C.SEX_CODES:
        raise CardFaceError(f"card face record: unknown sex code {sex!r}")
    for t, what in ((C.TAG_FACE_NAME_IMAGE, "name image"), (C.TAG_FACE_ADDRESS_IMAGE, "address image"),
                    (C.TAG_FACE_CODE_IMAGE, "security code image")):
        if not values[t].startswith(PNG_SIGNATURE):
            raise CardFaceError(f"card face record: the {what} is not a PNG")
    if not values[C.TAG_FACE_PHOTO].startswith((JP2_SIGNATURE, J2K_SIGNATURE)):
        raise CardFaceError("card face record: the face photo is not JPEG 2000")
    segments = tuple(b"".join(objects[t][1] for t in group) for group in SIGNED_SEGMENTS)
    return FaceRecord(
        birth=_date(values[C.TAG_FACE_BIRTH], "birth date"),
        sex=sex,
        card_key=decode_rsa_key(values[C.TAG_FACE_KEY], "card face record: the card's key"),
        name_image=values[C.TAG_FACE_NAME_IMAGE],
        address_image=values[C.TAG_FACE_ADDRESS_IMAGE],
        photo=values[C.TAG_FACE_PHOTO],
        signature=values[C.TAG_FACE_SIGNATURE],
        expiry=_date(values[C.TAG_FACE_EXPIRY], "expiry"),
        security_code_image=values[C.TAG_FACE_CODE_IMAGE],
        segments=segments,  # type: ignore[arg-type]
    )


def verify_face_signature(record: FaceRecord, signer: rsa.RSAPublicKey) -> None:
    expected = segments_digest_info(record.segments)
    try:
        # PKCS#1 v1.5 type 1 unpadding by `cryptography`; the payload is compared whole.
        recovered = signer.recover_data_from_signature(record.signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        recovered = None
    if recovered != expected:
        raise CardFaceError("card face record: signature does not verify with the key of the CV "
                            "certificate (the record was changed, or signed by another key)")


@dataclass(frozen=True)
class CardFace:
    """The verified card face. `birth`, `sex`, the card key and the three images are covered by
    the record's signature; `expiry.year` and `security_code` were accepted by the card as part
    of 照合番号B; `name` and `address` are the text AP's text (None when not read)."""

    birth: dt.date
    sex: str
    expiry: dt.date
    security_code: str
    name_image: bytes
    address_image: bytes
    photo: bytes
    security_code_image: bytes
    card_key: rsa.RSAPublicKey
    issuer_key_id: bytes
    signer_key_id: bytes
    name: str | None = None
    address: str | None = None

    @property
    def sex_label(self) -> str:
        return C.SEX_CODES[self.sex]


def verify_card_face(record: bytes, cv_certificate: bytes, issuer_keys: Mapping[bytes, rsa.RSAPublicKey],
                     code: str) -> CardFace:
    """Checks the CV certificate under `issuer_keys`, the record under the certified key, and
    the record's birth date and expiry year against the 照合番号B `code` the card accepted."""
    check_code(C.FACE_CODE_B, code)
    cert = CvCertificate.parse(cv_certificate)
    signer = cert.verify(issuer_keys)
    face = parse_face_record(record)
    verify_face_signature(face, signer)
    if era_yymmdd(face.birth) != code[:6] or f"{face.expiry.year:04d}" != code[6:10]:
        raise CardFaceError("card face record: its birth date or expiry year differs from the "
                            "照合番号B the card accepted")
    return CardFace(face.birth, face.sex, face.expiry, code[10:], face.name_image, face.address_image,
                    face.photo, face.security_code_image, face.card_key, cert.issuer_key_id,
                    cert.subject_key_id)


# -- the client -----------------------------------------------------------------------------

class FaceAP:
    """The card face AP over a `Channel`; `issuer_keys` maps CV issuer key ids to public keys."""

    CODES = {"B": C.FACE_CODE_B, "A": C.FACE_CODE_A}

    def __init__(self, channel: Channel, issuer_keys: Mapping[bytes, rsa.RSAPublicKey]):
        self.channel = channel
        self.issuer_keys = dict(issuer_keys)

    def select(self) -> None:
        self.channel.select_aid(C.AID_SURFACE)

    def status(self, which: str = "B") -> PinStatus:
        """Tries left of 照合番号B (or A), by an empty VERIFY (63Cx); consumes no try."""
        policy = self.CODES[which]
        self.select()
        self.channel.select_ef(policy.ef)
        return _status(self.channel.exchange(A.verify()))

    def verify_code_b(self, code: str) -> None:
        data = check_code(C.FACE_CODE_B, code)
        self.select()
        self.channel.select_ef(C.EF_FACE_CODE_B)
        self.channel.send(A.verify(data))

    def verify_code_a(self, code: str, *, my_number_task: bool = False) -> None:
        """照合番号A is the individual number: present it only for a legal My Number task
        (番号法), and say so with `my_number_task=True`; 照合番号B opens the same card face."""
        if not my_number_task:
            raise ValueError("照合番号A is the individual number: only for a legal My Number task "
                             "(pass my_number_task=True); use 照合番号B otherwise")
        data = check_code(C.FACE_CODE_A, code)
        self.select()
        self.channel.select_ef(C.EF_FACE_CODE_A)
        self.channel.send(A.verify(data))

    def read_record(self) -> bytes:
        """EF 0002 as stored (a code must have been verified in this session)."""
        self.select()
        return self.channel.read_tlv_file(C.EF_FACE_RECORD)

    def read_cv_certificate(self) -> bytes:
        self.select()
        return self.channel.read_tlv_file(C.EF_FACE_CV_CERT)

    def read(self, code: str, *, text: bool = False) -> CardFace:
        """VERIFY 照合番号B, read and verify the card face; with `text`, also the name and
        address as text from the text AP (same code), cross-checked on birth date and sex."""
        check_code(C.FACE_CODE_B, code)
        try:
            self.verify_code_b(code)
            record = self.read_record()
            cert = self.read_cv_certificate()
            face = verify_card_face(record, cert, self.issuer_keys, code)
            if text:
                from .text import TextAP

                facts = TextAP(self.channel).basic_facts_with_code_b(code)
                if (facts.birth, facts.sex) != (face.birth, face.sex):
                    raise CardFaceError("the text AP's birth date or sex differs from the signed card face")
                face = replace(face, name=facts.name, address=facts.address)
        except TransportError as exc:
            raise TransportError(f"the card went away while its card face was read: {exc}") from None
        return face
