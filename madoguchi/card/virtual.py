"""A virtual My Number Card: a software card that answers the JPKI, text-input-support and
card face applications' APDUs with the same status words as the physical card (JPKI.md §1–§4).

Its state — keys, certificates, the basic four facts, the individual number, hashed PINs and
retry counters — is one JSON file, `card.json`, in the card's directory (mode 0600, under
the data directory, never committed). Retry counters are written on every change, so they
survive restarts; a blocked PIN stays blocked until `reset_pins`, which needs the dev CA
that issued the card (the issuing office).

Behaviour the sources do not settle is marked CHOICE below.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from . import apdu as A
from . import constants as C
from . import face, mynumber, tlv

STATE_FILE = "card.json"
FORMAT_VERSION = 1
PIN_HASH_ITERATIONS = 10_000
# CHOICE: the physical size of the text AP's attribute EF is unknown; we pad the TLV with FF
# filler to at least this many bytes (the individual-number EF is 17 bytes, as measured).
ATTRIBUTE_EF_MIN_SIZE = 512

# PINs by (application, EF). The blocked key 0012 of the text AP is modelled as a PIN with no tries.
PIN_KEYS = {
    ("jpki", C.EF_AUTH_PIN): C.AUTH_PIN,
    ("jpki", C.EF_SIGN_PIN): C.SIGN_PASSWORD,
    ("text", C.EF_TEXT_PIN): C.TEXT_PIN,
    ("text", C.EF_TEXT_CODE_A): C.CODE_A,
    ("text", C.EF_TEXT_CODE_B): C.CODE_B,
    ("face", C.EF_FACE_CODE_B): C.FACE_CODE_B,
    ("face", C.EF_FACE_CODE_A): C.FACE_CODE_A,
}
BLOCKED_AT_ISSUANCE = ("text", C.EF_TEXT_BLOCKED_KEY)
DIGESTS = {"sha1": hashes.SHA1(), "sha224": hashes.SHA224(), "sha256": hashes.SHA256(),
           "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def pin_id(ap: str, ef: int) -> str:
    return f"{ap}:{ef:04X}"


def hash_secret(secret: bytes, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", secret, salt, PIN_HASH_ITERATIONS)


def new_pin_record(secret: str, tries: int) -> dict:
    salt = secrets.token_bytes(16)
    return {"salt": salt.hex(), "hash": hash_secret(secret.encode("ascii"), salt).hex(), "tries": tries, "max": tries}


@dataclass
class BinaryEF:
    data: bytes
    # The PINs of which any one, verified, opens the file; empty = readable without a PIN.
    needs: tuple[int, ...] = ()


@dataclass
class KeyEF:
    key: rsa.RSAPrivateKey
    pin: int


@dataclass
class PinEF:
    ef: int


@dataclass
class Session:
    ap: str | None = "isd"
    ef: int | None = None
    verified: set[tuple[str, int]] = field(default_factory=set)


def attribute_record(name: str, address: str, birth: dt.date, sex: str) -> bytes:
    """The text AP's EF 0002: FF20{DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex}.

    CHOICE: each DF21 offset points at the tag byte of its field, counted from the start of
    the file (the sources say "offset of each field from start of file").
    """
    fields = [
        tlv.emit(C.TAG_NAME, name.encode("utf-8")),
        tlv.emit(C.TAG_ADDRESS, address.encode("utf-8")),
        tlv.emit(C.TAG_BIRTH, f"{birth:%Y%m%d}".encode("ascii")),
        tlv.emit(C.TAG_SEX, sex.encode("ascii")),
    ]
    offsets_len = len(C.TAG_OFFSETS) + 1 + 8  # DF21 08 + four u16
    body_len = offsets_len + sum(len(f) for f in fields)
    outer_header = len(tlv.emit(C.TAG_ATTRIBUTES, b"\x00" * body_len)) - body_len
    position = outer_header + offsets_len
    offsets = b""
    for f in fields:
        offsets += position.to_bytes(2, "big")
        position += len(f)
    body = tlv.emit(C.TAG_OFFSETS, offsets) + b"".join(fields)
    record = tlv.emit(C.TAG_ATTRIBUTES, body)
    return record.ljust(max(ATTRIBUTE_EF_MIN_SIZE, len(record)), b"\xff")


def mynumber_record(number: str) -> bytes:
    """EF 0001 of the text AP: FF10 0C + 12 ASCII digits, then FF FF filler (17 bytes)."""
    return tlv.emit(C.TAG_MYNUMBER, number.encode("ascii")) + b"\xff\xff"


def token_info(label: str) -> bytes:
    """EF 0006: a 160-byte PKCS#11 CK_TOKEN_INFO; CHOICE: fields after the label are ours."""
    info = label.encode("ascii").ljust(32, b" ")
    info += b"JPKI-DEV virtual card".ljust(32, b" ")      # manufacturerID
    info += b"madoguchi".ljust(16, b" ")                 # model
    info += b"0".ljust(16, b" ")                         # serialNumber
    info += (0).to_bytes(4, "big") * 11                  # flags + 10 counters
    info += bytes(4)                                     # hardware/firmware versions
    info += b" " * 16                                    # utcTime
    assert len(info) == C.TOKEN_INFO_LENGTH
    return info


class VirtualCard:
    """One virtual card, loaded from its directory. `transmit` takes and returns raw bytes."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE
        if not self.path.exists():
            raise FileNotFoundError(f"no virtual card in {self.directory}")
        state = json.loads(self.path.read_text())
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"{self.path}: unknown card format {state.get('version')!r}")
        self.token = state["token"]
        j, t = state["jpki"], state["text"]

        def der(name: str) -> bytes:
            return base64.b64decode(j[name])

        def key(name: str) -> rsa.RSAPrivateKey:
            k = serialization.load_pem_private_key(j[name].encode("ascii"), None)
            assert isinstance(k, rsa.RSAPrivateKey)
            return k

        availability = bytes([0x8F if j.get("sign_cert") else 0x00, 0x8F, 0x00])
        auth_cert_needs = (C.EF_AUTH_PIN,) if self.token == C.TOKEN_ANDROID else ()
        self.files: dict[str, dict[int, object]] = {
            "isd": {},
            "jpki": {
                C.EF_SIGN_CERT: BinaryEF(der("sign_cert"), (C.EF_SIGN_PIN,)),
                C.EF_SIGN_CA_CERT: BinaryEF(der("sign_ca")),
                C.EF_TOKEN_INFO: BinaryEF(token_info(self.token)),
                C.EF_CERT_AVAILABILITY: BinaryEF(availability),
                C.EF_AUTH_CERT: BinaryEF(der("auth_cert"), auth_cert_needs),
                C.EF_AUTH_CA_CERT: BinaryEF(der("auth_ca")),
                C.EF_AUTH_KEY: KeyEF(key("auth_key"), C.EF_AUTH_PIN),
                C.EF_AUTH_PIN: PinEF(C.EF_AUTH_PIN),
                C.EF_SIGN_KEY: KeyEF(key("sign_key"), C.EF_SIGN_PIN),
                C.EF_SIGN_PIN: PinEF(C.EF_SIGN_PIN),
            },
            "text": {
                C.EF_TEXT_MYNUMBER: BinaryEF(mynumber_record(t["mynumber"]), (C.EF_TEXT_PIN, C.EF_TEXT_CODE_A)),
                C.EF_TEXT_ATTRIBUTES: BinaryEF(
                    attribute_record(t["name"], t["address"], dt.date.fromisoformat(t["birth"]), t["sex"]),
                    (C.EF_TEXT_PIN, C.EF_TEXT_CODE_B)),
                C.EF_TEXT_PIN: PinEF(C.EF_TEXT_PIN),
                C.EF_TEXT_BLOCKED_KEY: PinEF(C.EF_TEXT_BLOCKED_KEY),
                C.EF_TEXT_CODE_A: PinEF(C.EF_TEXT_CODE_A),
                C.EF_TEXT_CODE_B: PinEF(C.EF_TEXT_CODE_B),
            },
        }
        # Cards issued before the text AP's integrity record existed have no EF 0003/0004 (6A82).
        if t.get("integrity"):
            self.files["text"][C.EF_TEXT_INTEGRITY] = BinaryEF(
                base64.b64decode(t["integrity"]), (C.EF_TEXT_PIN, C.EF_TEXT_CODE_A, C.EF_TEXT_CODE_B))
            self.files["text"][C.EF_TEXT_CV_CERT] = BinaryEF(base64.b64decode(t["cv_certificate"]))
        self.aids = {C.AID_JPKI: "jpki", C.AID_TEXT: "text", C.AID_GP_ISD: "isd"}
        # Cards issued before the card face AP existed have no "face" state: no such AP (6A82).
        f = state.get("face")
        if f is not None:
            self.files["face"] = {
                C.EF_FACE_RECORD: BinaryEF(base64.b64decode(f["record"]), (C.EF_FACE_CODE_B, C.EF_FACE_CODE_A)),
                C.EF_FACE_CV_CERT: BinaryEF(base64.b64decode(f["cv_certificate"])),
                C.EF_FACE_CODE_B: PinEF(C.EF_FACE_CODE_B),
                C.EF_FACE_CODE_A: PinEF(C.EF_FACE_CODE_A),
            }
            self.aids[C.AID_SURFACE] = "face"
        self.session = Session()

    # -- persistence of PIN state ---------------------------------------------------------

    @contextmanager
    def _pins(self, write: bool):
        """The PIN records, read fresh from disk under a lock (and written back when `write`)."""
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text())
                yield state["pins"]
                if write:
                    _write_state(self.path, state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- power -------------------------------------------------------------------------

    def power_on(self) -> bytes:
        """Cold or warm reset: the security state is lost, the GP ISD is selected."""
        self.session = Session()
        return C.ATR

    reset = power_on

    def power_off(self) -> None:
        self.session = Session()

    @property
    def atr(self) -> bytes:
        return C.ATR

    # -- APDU processing ---------------------------------------------------------------

    def transmit(self, raw: bytes) -> bytes:
        return self.process(raw).to_bytes()

    def process(self, raw: bytes) -> A.Response:
        try:
            cmd = A.Command.parse(raw)
        except A.MalformedAPDU as exc:
            return A.Response(b"", exc.sw or A.SW_WRONG_LENGTH)
        if cmd.cla not in (A.CLA_ISO, A.CLA_PROPRIETARY):
            return A.Response(b"", A.SW_CLA_NOT_SUPPORTED)
        handler = {
            (A.CLA_ISO, A.INS_SELECT): self._select,
            (A.CLA_ISO, A.INS_READ_BINARY): self._read_binary,
            (A.CLA_ISO, A.INS_VERIFY): self._verify,
            (A.CLA_ISO, A.INS_CHANGE_REFERENCE_DATA): self._change,
            (A.CLA_PROPRIETARY, A.INS_SIGN): self._sign,
        }.get((cmd.cla, cmd.ins))
        if handler is None:
            known_ins = {A.INS_SELECT, A.INS_READ_BINARY, A.INS_VERIFY, A.INS_CHANGE_REFERENCE_DATA, A.INS_SIGN}
            return A.Response(b"", A.SW_CLA_NOT_SUPPORTED if cmd.ins in known_ins else A.SW_INS_NOT_SUPPORTED)
        return handler(cmd)

    def _select(self, cmd: A.Command) -> A.Response:
        # CHOICE: only P2=0C (no FCI) is answered, as every known client sends; others 6A86.
        if cmd.p2 != 0x0C:
            return A.Response(b"", A.SW_WRONG_P1P2)
        if cmd.p1 == 0x04:
            ap = self.aids.get(cmd.data)
            if ap is None:
                return A.Response(b"", A.SW_FILE_NOT_FOUND)
            # CHOICE: selecting another application drops the security state; re-selecting the
            # current one keeps it (clients re-select the AP before each operation).
            if ap != self.session.ap:
                self.session = Session(ap=ap)
            self.session.ef = None
            return A.Response(b"", A.SW_OK)
        if cmd.p1 == 0x02:
            if len(cmd.data) != 2:
                return A.Response(b"", A.SW_WRONG_LENGTH)
            ef = int.from_bytes(cmd.data, "big")
            if ef not in self.files.get(self.session.ap or "", {}):
                return A.Response(b"", A.SW_FILE_NOT_FOUND)
            self.session.ef = ef
            return A.Response(b"", A.SW_OK)
        # CHOICE: "select MF" (P1=00) and other selection modes are not emulated.
        return A.Response(b"", A.SW_WRONG_P1P2)

    def _file(self, ef: int):
        return self.files.get(self.session.ap or "", {}).get(ef)

    def _read_binary(self, cmd: A.Command) -> A.Response:
        if cmd.data:
            return A.Response(b"", A.SW_WRONG_LENGTH)
        if cmd.p1 & 0x80:  # short EF id in P1 b5..b1, 8-bit offset in P2
            if cmd.p1 & 0x60:
                return A.Response(b"", A.SW_WRONG_P1P2)
            ef, offset = cmd.p1 & 0x1F, cmd.p2
            if self._file(ef) is None:
                return A.Response(b"", A.SW_FILE_NOT_FOUND)
            self.session.ef = ef
        else:
            if self.session.ef is None:
                return A.Response(b"", A.SW_NO_CURRENT_EF)
            ef, offset = self.session.ef, (cmd.p1 << 8) | cmd.p2
        f = self._file(ef)
        if not isinstance(f, BinaryEF):  # CHOICE: keys and PINs are not readable → 6981
            return A.Response(b"", A.SW_INCOMPATIBLE_FILE)
        if f.needs and not any((self.session.ap, pin) in self.session.verified for pin in f.needs):
            return A.Response(b"", A.SW_SECURITY_NOT_SATISFIED)
        if offset >= len(f.data):
            return A.Response(b"", A.SW_WRONG_OFFSET)
        ne = cmd.le or 256  # CHOICE: a case-1 READ BINARY is read as Le=00
        chunk = f.data[offset:offset + ne]
        # CHOICE: reading past the end gives what is there with 6282 (ISO 7816-4).
        return A.Response(chunk, A.SW_OK if len(chunk) == ne else A.SW_EOF_WARNING)

    def _pin_target(self, cmd: A.Command) -> tuple[int | None, int]:
        """The PIN EF a VERIFY / CHANGE addresses, or (None, status word).

        CHOICE (ISO 7816-4 codes; the card's own are unknown): no current EF 6986, current EF
        not a PIN 6981, short EF id of a non-PIN 6A88, P2 without b8 6A86.
        """
        if not cmd.p2 & 0x80 or cmd.p2 & 0x60:
            return None, A.SW_WRONG_P1P2
        sfi = cmd.p2 & 0x1F
        if sfi:
            f = self._file(sfi)
            if not isinstance(f, PinEF):
                return None, A.SW_REF_DATA_NOT_FOUND
            return sfi, A.SW_OK
        if self.session.ef is None:
            return None, A.SW_NO_CURRENT_EF
        if not isinstance(self._file(self.session.ef), PinEF):
            return None, A.SW_INCOMPATIBLE_FILE
        return self.session.ef, A.SW_OK

    def _verify(self, cmd: A.Command) -> A.Response:
        if cmd.p1 != 0x00:
            return A.Response(b"", A.SW_WRONG_P1P2)
        ef, sw = self._pin_target(cmd)
        if ef is None:
            return A.Response(b"", sw)
        key = (self.session.ap, ef)
        if key == BLOCKED_AT_ISSUANCE:
            return A.Response(b"", 0x63C0 if not cmd.data else A.SW_REF_DATA_BLOCKED)
        if not cmd.data:  # retry counter; consumes no try
            # CHOICE: 63Cx even when the PIN is verified (ISO 7816-4 would allow 9000): OpenSC's
            # JPKI driver, written against real cards, refuses any other answer and then fails
            # to bind a card left verified by the previous program.
            with self._pins(write=False) as pins:
                tries = pins[pin_id(*key)]["tries"]
            return A.Response(b"", 0x63C0 | tries)
        with self._pins(write=True) as pins:
            record = pins[pin_id(*key)]
            if record["tries"] == 0:
                return A.Response(b"", A.SW_REF_DATA_BLOCKED)
            # CHOICE: any mismatch, whatever its length or alphabet, costs a try.
            good = hmac.compare_digest(hash_secret(cmd.data, bytes.fromhex(record["salt"])),
                                       bytes.fromhex(record["hash"]))
            if good:
                record["tries"] = record["max"]
                self.session.verified.add(key)
                return A.Response(b"", A.SW_OK)
            record["tries"] -= 1
            self.session.verified.discard(key)
            return A.Response(b"", 0x63C0 | record["tries"])

    def _change(self, cmd: A.Command) -> A.Response:
        if cmd.p1 != 0x01:  # CHOICE: only "new value alone after VERIFY" (P1=01) is emulated
            return A.Response(b"", A.SW_WRONG_P1P2)
        ef, sw = self._pin_target(cmd)
        if ef is None:
            return A.Response(b"", sw)
        key = (self.session.ap, ef)
        policy = PIN_KEYS.get(key)  # type: ignore[arg-type]
        if (policy is None or key == BLOCKED_AT_ISSUANCE or self.session.ap == "face"
                or ef in (C.EF_TEXT_CODE_A, C.EF_TEXT_CODE_B)):
            return A.Response(b"", A.SW_CONDITIONS_NOT_SATISFIED)
        if key not in self.session.verified:
            return A.Response(b"", A.SW_SECURITY_NOT_SATISFIED)
        try:
            new = cmd.data.decode("ascii")
        except UnicodeDecodeError:
            return A.Response(b"", A.SW_WRONG_DATA)
        if not policy.valid(new):  # CHOICE: the card enforces the format of a new PIN
            return A.Response(b"", A.SW_WRONG_DATA)
        with self._pins(write=True) as pins:
            pins[pin_id(*key)] = new_pin_record(new, policy.tries)
        return A.Response(b"", A.SW_OK)

    def _sign(self, cmd: A.Command) -> A.Response:
        # CHOICE: only P1=00 (card pads what it is given) is emulated; soltia's P1=01..05 → 6A86.
        if cmd.p1 != 0x00 or not cmd.p2 & 0x80 or cmd.p2 & 0x60:
            return A.Response(b"", A.SW_WRONG_P1P2)
        sfi = cmd.p2 & 0x1F
        ef = sfi or self.session.ef
        if ef is None:
            return A.Response(b"", A.SW_NO_CURRENT_EF)
        f = self._file(ef)
        if not isinstance(f, KeyEF):
            return A.Response(b"", A.SW_INCOMPATIBLE_FILE if not sfi else A.SW_REF_DATA_NOT_FOUND)
        if (self.session.ap, f.pin) not in self.session.verified:
            return A.Response(b"", A.SW_SECURITY_NOT_SATISFIED)
        if not 1 <= len(cmd.data) <= 245:  # PKCS#1 v1.5 type 1 leaves at most k − 11 bytes
            return A.Response(b"", A.SW_WRONG_LENGTH)
        return A.Response(pkcs1_sign(f.key, cmd.data), A.SW_OK)


def pkcs1_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 over `data` as given (the card does not hash).

    A DER DigestInfo of a known hash — what every client sends — is signed by
    `cryptography` (Prehashed gives byte-identical output). Anything else is padded
    (00 01 FF… 00 ‖ data) and raised to d by Python's pow: only the virtual card needs it,
    so that it answers odd inputs like the real card does.
    """
    try:
        info = algos.DigestInfo.load(data, strict=True)
        name = info["digest_algorithm"]["algorithm"].native
        digest = info["digest"].native
        # Only the canonical encoding (with the NULL parameters) is what Prehashed signs;
        # anything else — the 49-byte form without NULL included — is signed as given, so
        # a client that sends the wrong bytes fails verification here as on a real card.
        canonical = algos.DigestInfo({"digest_algorithm": {"algorithm": name}, "digest": digest}).dump()
        if canonical == data and name in DIGESTS and len(digest) == DIGESTS[name].digest_size:
            return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(DIGESTS[name]))
    except (ValueError, TypeError, KeyError):
        pass
    k = (key.key_size + 7) // 8
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    numbers = key.private_numbers()
    return pow(int.from_bytes(em, "big"), numbers.d, numbers.public_numbers.n).to_bytes(k, "big")


def _write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# -- issuing ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Holder:
    name: str
    address: str
    birth: dt.date
    sex: str


era_year_code = face.era_yymmdd  # 生年月日 as 和暦 YYMMDD (for 照合番号B); kept for callers


# -- the card face AP: the demo issuer, the images, the record ---------------------------

# CHOICE: key ids of our demo hierarchy start with 9 (production J-LIS ids start with 5, the
# J-LIS test hierarchy's with 6): the demo issuer (証明者鍵ID of the CV certificate) and the
# demo municipality key it certifies, which signs every card face record (被証明者鍵ID).
FACE_ISSUER_KEY_ID = face.key_id("9000023")
FACE_SIGNER_KEY_ID = face.key_id("9100001")
FACE_ISSUER_KEY_FILE = "face-issuer.key.pem"
FACE_SIGNER_KEY_FILE = "face-signer.key.pem"
FACE_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/truetype/fonts-japanese-mincho.ttf")


def _face_key(directory: Path, name: str) -> rsa.RSAPrivateKey:
    """The key in `directory/name`, made (mode 0600) on first use under the directory's lock."""
    path = directory / name
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".face.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not path.exists():
                key = rsa.generate_private_key(public_exponent=65537, key_size=face.RSA_BITS)
                tmp = path.with_name(name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
                os.replace(tmp, path)
            key = serialization.load_pem_private_key(path.read_bytes(), None)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def face_issuer(directory: str | os.PathLike) -> rsa.RSAPrivateKey:
    """The demo issuer of card face CV certificates, kept beside the dev CA in `directory`
    (made on first use). A development stand-in: J-LIS's production issuer keys are not public."""
    return _face_key(Path(directory), FACE_ISSUER_KEY_FILE)


def face_issuer_keys(directory: str | os.PathLike) -> dict[bytes, rsa.RSAPublicKey]:
    """What a card face client is configured with to accept this directory's virtual cards."""
    return {FACE_ISSUER_KEY_ID: face_issuer(directory).public_key()}


def face_cv_certificate(directory: str | os.PathLike) -> bytes:
    """The CV certificate of the demo municipality key, signed by the demo issuer
    (PKCS#1 v1.5 is deterministic, so this is the same bytes every time)."""
    signer = _face_key(Path(directory), FACE_SIGNER_KEY_FILE)
    body = face.cv_body(FACE_ISSUER_KEY_ID, FACE_SIGNER_KEY_ID, signer.public_key())
    return face.sign_cv_body(face_issuer(directory), body)


def _font(size: int):
    from PIL import ImageFont

    for path in FACE_FONTS:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)  # no CJK font: kanji draw as boxes, the PNG is still valid


def text_image(text: str, height: int = 24) -> bytes:
    """A 1-bit PNG of `text`, black on white, as the card's name, address and code images."""
    import io

    from PIL import Image, ImageDraw

    font = _font(height - 4)
    left, top, right, bottom = ImageDraw.Draw(Image.new("1", (1, 1))).textbbox((0, 0), text, font=font)
    image = Image.new("1", (max(1, right - min(left, 0) + 4), height), 1)
    ImageDraw.Draw(image).text((2 - min(left, 0), 2 - top), text, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def face_photo(seed: bytes, size: tuple[int, int] = (96, 120)) -> bytes:
    """A small greyscale JPEG 2000 (JP2 container) portrait drawn from `seed` — a drawing, not
    anyone's photo — encoded by Pillow's OpenJPEG codec."""
    import io

    from PIL import Image, ImageDraw

    w, h = size
    shade = seed[0] % 64
    image = Image.new("L", size, 200 + seed[1] % 40)
    draw = ImageDraw.Draw(image)
    draw.rectangle([w * 0.15, h * 0.72, w * 0.85, h], fill=60 + shade)                # shoulders
    draw.ellipse([w * 0.25, h * 0.18, w * 0.75, h * 0.78], fill=150 + shade)           # face
    draw.chord([w * 0.22, h * 0.08, w * 0.78, h * 0.5], 180, 360, fill=30 + seed[2] % 40)  # hair
    for x in (0.38, 0.62):
        draw.ellipse([w * x - 3, h * 0.45 - 2, w * x + 3, h * 0.45 + 2], fill=20)      # eyes
    draw.line([w * 0.42, h * 0.64, w * 0.58, h * 0.64], fill=60, width=2)             # mouth
    out = io.BytesIO()
    image.save(out, "JPEG2000", no_jp2=False, irreversible=True, quality_mode="rates", quality_layers=[12])
    return out.getvalue()


def face_record(holder: Holder, expiry: dt.date, security_code: str, card_key: rsa.RSAPublicKey,
                signer: rsa.RSAPrivateKey, photo: bytes) -> bytes:
    """The card face AP's EF 0002: FF20{DF21 offsets ×9, DF22 birth, DF23 sex, DF24 card key,
    DF25 name PNG, DF26 address PNG, DF27 photo, DF28 signature, DF29 expiry, DF2A code PNG}.

    The signature (PKCS#1 v1.5 by the demo municipality key) covers three segments hashed
    separately (face.segments_digest_info); DF29 and DF2A follow it, uncovered, as on the card.
    CHOICE: no filler after the record; offsets count from the start of the file.
    """
    name = holder.name.replace("\u3000", " ")
    objects = [
        tlv.emit(C.TAG_FACE_BIRTH, f"{holder.birth:%Y%m%d}".encode("ascii")),
        tlv.emit(C.TAG_FACE_SEX, holder.sex.encode("ascii")),
        tlv.emit(C.TAG_FACE_KEY, face.encode_rsa_key(card_key)),
        tlv.emit(C.TAG_FACE_NAME_IMAGE, text_image(name, 32)),
        tlv.emit(C.TAG_FACE_ADDRESS_IMAGE, text_image(holder.address, 24)),
        tlv.emit(C.TAG_FACE_PHOTO, photo),
    ]
    segments = [b"".join(objects[0:3]), b"".join(objects[3:5]), objects[5]]
    signature = pkcs1_sign(signer, face.segments_digest_info(segments))  # 96-byte digest: not a
    # standard DigestInfo, so `cryptography` cannot sign it; pkcs1_sign pads it as the card would
    objects += [
        tlv.emit(C.TAG_FACE_SIGNATURE, signature),
        tlv.emit(C.TAG_FACE_EXPIRY, f"{expiry:%Y%m%d}".encode("ascii")),
        tlv.emit(C.TAG_FACE_CODE_IMAGE, text_image(security_code, 12)),
    ]
    table_len = len(C.TAG_FACE_OFFSETS) + 1 + 2 * len(objects)
    body_len = table_len + sum(len(o) for o in objects)
    position = len(tlv.emit(C.TAG_FACE, bytes(body_len))) - body_len + table_len
    offsets = b""
    for o in objects:
        offsets += position.to_bytes(2, "big")
        position += len(o)
    return tlv.emit(C.TAG_FACE, tlv.emit(C.TAG_FACE_OFFSETS, offsets) + b"".join(objects))


def face_state(ca_directory: str | os.PathLike, holder: Holder, expiry: dt.date, security_code: str) -> dict:
    """The card face AP of a new card: the card's own key, the signed record, the CV certificate."""
    card_key = rsa.generate_private_key(public_exponent=65537, key_size=face.RSA_BITS)
    signer = _face_key(Path(ca_directory), FACE_SIGNER_KEY_FILE)
    seed = hashlib.sha256(f"{holder.name}|{holder.birth}|{security_code}".encode()).digest()
    record = face_record(holder, expiry, security_code, card_key.public_key(), signer, face_photo(seed))
    return {
        "card_key": card_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode("ascii"),
        "record": base64.b64encode(record).decode("ascii"),
        "cv_certificate": base64.b64encode(face_cv_certificate(ca_directory)).decode("ascii"),
    }


def text_integrity_state(ca_directory: str | os.PathLike, holder: Holder, number: str) -> dict:
    """The text AP's EF 0003 (integrity record) and EF 0004 (CV certificate). CHOICE: the demo
    municipality key that signs the card face records signs it too, under the same CV certificate."""
    from .text import integrity_record

    signer = _face_key(Path(ca_directory), FACE_SIGNER_KEY_FILE)
    record = integrity_record(mynumber_record(number),
                              attribute_record(holder.name, holder.address, holder.birth, holder.sex),
                              lambda digest_info: pkcs1_sign(signer, digest_info))
    return {"integrity": base64.b64encode(record).decode("ascii"),
            "cv_certificate": base64.b64encode(face_cv_certificate(ca_directory)).decode("ascii")}


def card_expiry(birth: dt.date, issued: dt.date) -> dt.date:
    """The card expires on its holder's 10th birthday after issuance (5th when under 18)."""
    from madoguchi.pki.profile import nth_birthday_after

    age = issued.year - birth.year - ((issued.month, issued.day) < (birth.month, birth.day))
    return nth_birthday_after(birth, issued, 10 if age >= 18 else 5)


def issue(directory: str | os.PathLike, ca, holder: Holder, pin: str, password: str, text_pin: str,
          token: str = C.TOKEN_CARD, individual_number: str | None = None) -> Path:
    """Issues a virtual card into `directory` with keys and certificates from the dev CA `ca`."""
    from madoguchi.pki.profile import BasicFour

    password = password.upper()
    for policy, value in ((C.AUTH_PIN, pin), (C.SIGN_PASSWORD, password), (C.TEXT_PIN, text_pin)):
        if not policy.valid(value):
            raise ValueError(f"{policy.label} must be {policy.description}")
    if token not in C.TOKEN_KINDS:
        raise ValueError(f"unknown token label {token!r}")
    number = individual_number or mynumber.generate()
    if not mynumber.is_valid(number):
        raise ValueError("the individual number has no valid check digit")
    directory = Path(directory)
    if (directory / STATE_FILE).exists():
        raise FileExistsError(f"{directory} already holds a card")
    # A phone's token (Android, iPhone) holds smartphone-profile certificates (スマホ用電子証明書).
    issued = ca.issue_card(BasicFour(holder.name, holder.address, holder.birth, holder.sex),
                           smartphone=token in (C.TOKEN_ANDROID, C.TOKEN_IPHONE))
    today = dt.date.today()
    security_code = f"{secrets.randbelow(10**4):04d}"
    expiry = card_expiry(holder.birth, today)
    code_b = face.code_b(holder.birth, expiry.year, security_code)

    def pem_key(key: rsa.RSAPrivateKey) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode("ascii")

    def b64(cert: x509.Certificate) -> str:
        return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")

    state = {
        "version": FORMAT_VERSION,
        "token": token,
        "jpki": {
            "auth_key": pem_key(issued.auth_key), "auth_cert": b64(issued.auth_cert),
            "auth_ca": b64(ca.certificate("auth")),
            "sign_key": pem_key(issued.sign_key), "sign_cert": b64(issued.sign_cert),
            "sign_ca": b64(ca.certificate("sign")),
        },
        "text": {
            "name": holder.name, "address": holder.address, "birth": holder.birth.isoformat(),
            "sex": holder.sex, "mynumber": number, "security_code": security_code,
            "card_expiry": card_expiry(holder.birth, today).isoformat(),
        },
        "pins": {
            pin_id("jpki", C.EF_AUTH_PIN): new_pin_record(pin, C.AUTH_PIN.tries),
            pin_id("jpki", C.EF_SIGN_PIN): new_pin_record(password, C.SIGN_PASSWORD.tries),
            pin_id("text", C.EF_TEXT_PIN): new_pin_record(text_pin, C.TEXT_PIN.tries),
            pin_id("text", C.EF_TEXT_CODE_A): new_pin_record(number, C.CODE_A.tries),
            pin_id("text", C.EF_TEXT_CODE_B): new_pin_record(code_b, C.CODE_B.tries),
            pin_id("face", C.EF_FACE_CODE_B): new_pin_record(code_b, C.FACE_CODE_B.tries),
            pin_id("face", C.EF_FACE_CODE_A): new_pin_record(number, C.FACE_CODE_A.tries),
        },
        "face": face_state(ca.directory, holder, expiry, security_code),
    }
    state["text"].update(text_integrity_state(ca.directory, holder, number))
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    _write_state(directory / STATE_FILE, state)
    return directory


def reset_pins(directory: str | os.PathLike, ca, pin: str | None = None, password: str | None = None,
               text_pin: str | None = None) -> list[str]:
    """The issuing office's reset: unblocks every PIN (new values where given).

    Only the dev CA that issued the card may do it: the card's certificates must verify
    under `ca`. Returns the labels of the PINs that were reset.
    """
    directory = Path(directory)
    card = VirtualCard(directory)  # validates the file
    for ef in (C.EF_AUTH_CERT,):
        cert = x509.load_der_x509_certificate(card.files["jpki"][ef].data)  # type: ignore[union-attr]
        if ca.issued_by_me(cert) is None:
            raise PermissionError("this card was not issued by this development CA")
    changes = {(C.EF_AUTH_PIN, "jpki"): (C.AUTH_PIN, pin),
               (C.EF_SIGN_PIN, "jpki"): (C.SIGN_PASSWORD, password.upper() if password else None),
               (C.EF_TEXT_PIN, "text"): (C.TEXT_PIN, text_pin)}
    for (_ef, _ap), (policy, value) in changes.items():
        if value is not None and not policy.valid(value):
            raise ValueError(f"{policy.label} must be {policy.description}")
    done = []
    with card._pins(write=True) as pins:
        for (ef, ap), (policy, value) in changes.items():
            record = pins[pin_id(ap, ef)]
            if value is not None:
                pins[pin_id(ap, ef)] = new_pin_record(value, policy.tries)
            else:
                record["tries"] = record["max"]
            done.append(policy.label)
        for ap, ef in (("text", C.EF_TEXT_CODE_A), ("text", C.EF_TEXT_CODE_B),
                       ("face", C.EF_FACE_CODE_B), ("face", C.EF_FACE_CODE_A)):
            if pin_id(ap, ef) in pins:  # cards issued before the card face AP lack its codes
                pins[pin_id(ap, ef)]["tries"] = pins[pin_id(ap, ef)]["max"]
    return done
