"""The card face AP (券面事項確認AP) and 照合番号B: the client (card/face.py) against the
virtual card, on both transports — in this process and through pcscd + vpcd + pyscard —
plus the pure parts (照合番号B across eras, record and CV certificate checks, input checks)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from madoguchi.card import apdu as A
from madoguchi.card import constants as C
from madoguchi.card import face, tlv, virtual
from madoguchi.card.face import CardFaceError, FaceAP
from madoguchi.card.text import TextAP
from madoguchi.card.transport import Channel, PcscTransport, TransportError

from .conftest import HOLDER

SELECT_FACE = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02"


def ef(efid: int) -> str:
    return f"00 A4 02 0C 02 {efid:04X}"


def verify_hex(secret: str) -> str:
    data = secret.encode("ascii")
    return f"00 20 00 80 {len(data):02X} {data.hex()}"


@pytest.fixture
def code(card_state) -> str:
    text = card_state["text"]
    return face.code_b(HOLDER.birth, int(text["card_expiry"][:4]), text["security_code"])


@pytest.fixture
def issuers(dev_ca):
    return virtual.face_issuer_keys(dev_ca.directory)


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def rewrite_face(card_dir, change) -> None:
    """Edits the record stored in card.json: change(bytes) -> bytes."""
    path = card_dir / "card.json"
    state = json.loads(path.read_text())
    state["face"]["record"] = base64.b64encode(change(base64.b64decode(state["face"]["record"]))).decode()
    path.write_text(json.dumps(state))


# -- raw APDUs ------------------------------------------------------------------------------

def test_raw_apdus_of_the_face_ap(raw, code):
    assert raw(SELECT_FACE) == (b"", 0x9000)
    assert raw(ef(C.EF_FACE_RECORD)) == (b"", 0x9000)
    assert raw("00 B0 00 00 04") == (b"", 0x6982)          # no code verified yet
    raw(ef(C.EF_FACE_CV_CERT))
    head, sw = raw("00 B0 00 00 08")                         # the CV certificate needs nothing
    assert sw == 0x9000 and head[:2] == b"\x7f\x21"
    raw(ef(C.EF_FACE_CODE_B))
    assert raw("00 20 00 80") == (b"", 0x63CA)              # retry counter: 10, costs nothing
    assert raw(verify_hex(code)) == (b"", 0x9000)
    raw(ef(C.EF_FACE_RECORD))
    head, sw = raw("00 B0 00 00 04")
    assert sw == 0x9000 and head[:2] == b"\xff\x20"
    assert raw(ef(0x0005)) == (b"", 0x6A82)                 # the rendered number image: not emulated


# -- the client over both transports --------------------------------------------------------

def test_code_b_reads_and_verifies_the_card_face(channel, code, issuers, card_state):
    result = FaceAP(channel, issuers).read(code, text=True)
    assert result.birth == HOLDER.birth and result.sex == HOLDER.sex and result.sex_label == "female"
    assert result.expiry == dt.date.fromisoformat(card_state["text"]["card_expiry"])
    assert result.security_code == card_state["text"]["security_code"]
    assert (result.name, result.address) == (HOLDER.name, HOLDER.address)
    assert face.key_id_text(result.issuer_key_id) == "9000023/001"
    photo = Image.open(io.BytesIO(result.photo))
    assert photo.format == "JPEG2000" and photo.mode == "L"
    assert result.photo.startswith(face.JP2_SIGNATURE)
    for image in (result.name_image, result.address_image, result.security_code_image):
        assert Image.open(io.BytesIO(image)).mode == "1"
    assert result.card_key.key_size == 2048


def test_repeated_reads_give_the_same_bytes(channel, code, issuers, card_dir):
    ap = FaceAP(channel, issuers)
    ap.verify_code_b(code)
    first, cert = ap.read_record(), ap.read_cv_certificate()
    assert ap.read_record() == first
    again = FaceAP(Channel(virtual_transport(card_dir)), issuers)
    again.verify_code_b(code)
    assert again.read_record() == first and again.read_cv_certificate() == cert


def virtual_transport(card_dir):
    from madoguchi.card.transport import VirtualTransport

    return VirtualTransport(virtual.VirtualCard(card_dir))


def test_wrong_code_shows_tries_left_and_a_right_one_restores_them(channel, code, issuers):
    ap = FaceAP(channel, issuers)
    with pytest.raises(A.WrongPin) as caught:
        ap.read(wrong(code))
    assert caught.value.tries_left == 9
    assert ap.status().tries_left == 9
    ap.read(code)
    assert ap.status().tries_left == 10


def test_lockout_refuses_even_the_right_code(channel, code, issuers, card_dir, dev_ca):
    ap = FaceAP(channel, issuers)
    for left in range(9, 0, -1):
        with pytest.raises(A.WrongPin) as caught:
            ap.verify_code_b(wrong(code))
        assert caught.value.tries_left == left
    with pytest.raises(A.PinBlocked) as caught:
        ap.verify_code_b(wrong(code))
    assert caught.value.sw == 0x63C0
    with pytest.raises(A.PinBlocked) as caught:
        ap.read(code)
    assert caught.value.sw == 0x6984
    assert ap.status().blocked
    with pytest.raises(A.SecurityStatusNotSatisfied):
        ap.read_record()
    # the text AP's 照合番号B has a counter of its own (CHOICE) and still opens the four facts
    assert TextAP(channel).basic_facts_with_code_b(code).name == HOLDER.name
    virtual.reset_pins(card_dir, dev_ca)  # the issuing office
    assert FaceAP(Channel(virtual_transport(card_dir)), issuers).read(code).birth == HOLDER.birth


def test_tampered_record_is_refused_with_the_reason(make_transport, card_dir, code, issuers):
    def flip_in_photo(record: bytes) -> bytes:
        at = record.index(face.JP2_SIGNATURE) + 200
        return record[:at] + bytes([record[at] ^ 0x01]) + record[at + 1:]

    rewrite_face(card_dir, flip_in_photo)
    with pytest.raises(CardFaceError, match="signature does not verify with the key of the CV certificate"):
        FaceAP(Channel(make_transport(card_dir)), issuers).read(code)


def test_record_signed_by_another_key_is_refused(make_transport, card_dir, code, issuers, card_state):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = card_state["text"]
    forged = virtual.face_record(
        virtual.Holder("偽造\u3000太郎", HOLDER.address, HOLDER.birth, HOLDER.sex),
        dt.date.fromisoformat(text["card_expiry"]), text["security_code"], other.public_key(), other,
        virtual.face_photo(b"forged"))
    rewrite_face(card_dir, lambda _record: forged)
    with pytest.raises(CardFaceError, match="signed by another key"):
        FaceAP(Channel(make_transport(card_dir)), issuers).read(code)


def test_cv_certificate_of_another_issuer_is_refused(channel, code, issuers, tmp_path):
    ap = FaceAP(channel, {virtual.FACE_ISSUER_KEY_ID: virtual.face_issuer(tmp_path / "other-ca").public_key()})
    with pytest.raises(CardFaceError, match="CV certificate: signature does not verify under issuer key 9000023/001"):
        ap.read(code)
    with pytest.raises(CardFaceError, match="issuer key 9000023/001 is not configured"):
        FaceAP(channel, {face.key_id("5000023"): rsa.generate_private_key(
            public_exponent=65537, key_size=2048).public_key()}).read(code)


def test_malformed_codes_never_reach_the_card(channel, code, issuers):
    ap = FaceAP(channel, issuers)
    cases = [(code[:-1], "14 digits, got 13"), (code + "0", "14 digits, got 15"), ("", "got nothing"),
             ("5502172035228X", "non-digit"), ("５５０２１７２０３５２２８５", "non-digit"),
             (55021720352285, "not int")]
    for value, message in cases:
        with pytest.raises(ValueError, match=message):
            ap.read(value)
        with pytest.raises(ValueError, match=message):
            TextAP(channel).basic_facts_with_code_b(value)
    assert ap.status().tries_left == 10
    assert TextAP(channel).code_b_status().tries_left == 10


def test_code_a_only_for_a_my_number_task(channel, issuers, card_state):
    ap = FaceAP(channel, issuers)
    with pytest.raises(ValueError, match="only for a legal My Number task"):
        ap.verify_code_a(card_state["text"]["mynumber"])
    assert ap.status("A").tries_left == 10
    ap.verify_code_a(card_state["text"]["mynumber"], my_number_task=True)
    assert face.parse_face_record(ap.read_record()).birth == HOLDER.birth


class PulledOut:
    """A transport whose card is pulled out after `after` commands: a PC/SC connection is
    really dropped (pyscard then fails), the in-process card stops answering."""

    def __init__(self, inner, after: int):
        self.inner, self.left = inner, after

    def transmit(self, raw: bytes) -> bytes:
        self.left -= 1
        if self.left < 0:
            if isinstance(self.inner, PcscTransport):
                self.inner.connection.disconnect()
                return self.inner.transmit(raw)  # raises TransportError from pyscard's failure
            raise TransportError("card removed")
        return self.inner.transmit(raw)

    def close(self) -> None:
        self.inner.close()


def test_card_pulled_out_mid_read(make_transport, card_dir, code, issuers):
    # SELECT AP, SELECT EF, VERIFY, SELECT AP, SELECT EF, header read, then a chunk: pulled there.
    channel = Channel(PulledOut(make_transport(card_dir), after=7))
    with pytest.raises(TransportError, match="the card went away while its card face was read"):
        FaceAP(channel, issuers).read(code)


def test_text_ap_four_facts_with_code_b(channel, code):
    text = TextAP(channel)
    with pytest.raises(A.WrongPin) as caught:
        text.basic_facts_with_code_b(wrong(code))
    assert caught.value.tries_left == 9 and text.code_b_status().tries_left == 9
    facts = text.basic_facts_with_code_b(code)
    assert (facts.name, facts.address, facts.birth, facts.sex) == (HOLDER.name, HOLDER.address, HOLDER.birth,
                                                                   HOLDER.sex)
    with pytest.raises(A.SecurityStatusNotSatisfied):
        text.individual_number()  # 照合番号B does not open the individual number


def test_a_card_issued_before_the_face_ap_has_none(card_dir):
    state = json.loads((card_dir / "card.json").read_text())
    del state["face"]
    (card_dir / "card.json").write_text(json.dumps(state))
    card = virtual.VirtualCard(card_dir)
    card.power_on()
    assert card.transmit(bytes.fromhex(SELECT_FACE.replace(" ", ""))) == b"\x6a\x82"


# -- pure -----------------------------------------------------------------------------------

@pytest.mark.parametrize("birth,expected", [
    (dt.date(1980, 2, 17), "550217"),   # 昭和55 (JPKI.md's example)
    (dt.date(2019, 5, 1), "010501"),    # 令和1, the first day
    (dt.date(2019, 4, 30), "310430"),   # 平成31, the last day
    (dt.date(1989, 1, 8), "010108"),    # 平成1, the first day
    (dt.date(1989, 1, 7), "640107"),    # 昭和64, the last day
    (dt.date(1926, 12, 25), "011225"),  # 昭和1
    (dt.date(1926, 12, 24), "151224"),  # 大正15
    (dt.date(1912, 7, 30), "010730"),   # 大正1
    (dt.date(2024, 2, 29), "060229"),   # 令和6, a leap day
])
def test_era_yymmdd(birth, expected):
    assert face.era_yymmdd(birth) == expected


def test_code_b_example_and_bad_arguments():
    assert face.code_b(dt.date(1980, 2, 17), 2035, "2285") == "55021720352285"
    assert face.code_b(dt.date(2019, 5, 1), 2029, "0007") == "01050120290007"
    for args, message in [((dt.date(1980, 2, 17), 2035, "228"), "security code must be 4 digits"),
                          ((dt.date(1980, 2, 17), 2035, "22a5"), "security code must be 4 digits"),
                          ((dt.date(1980, 2, 17), 35, "2285"), "4-digit year"),
                          (("1980-02-17", 2035, "2285"), "must be a date"),
                          ((dt.datetime(1980, 2, 17), 2035, "2285"), "must be a date"),
                          ((dt.date(1860, 1, 1), 2035, "2285"), "before the Meiji era")]:
        with pytest.raises(ValueError, match=message):
            face.code_b(*args)


def stored(card_state) -> tuple[bytes, bytes]:
    return (base64.b64decode(card_state["face"]["record"]), base64.b64decode(card_state["face"]["cv_certificate"]))


def test_every_covered_byte_of_the_record_is_protected(card_state, code, issuers):
    record, cert = stored(card_state)
    assert face.verify_card_face(record, cert, issuers, code).birth == HOLDER.birth
    # DF29 (expiry) and DF2A (code image) follow the signature, uncovered, as on the card; the
    # expiry's year digits are still checked against the 照合番号B the card accepted.
    expiry_at = record.index(C.TAG_FACE_EXPIRY + b"\x08")
    covered = list(range(expiry_at)) + list(range(expiry_at + 3, expiry_at + 7))
    for at in covered:
        forged = record[:at] + bytes([record[at] ^ 0x04]) + record[at + 1:]
        with pytest.raises(CardFaceError):
            face.verify_card_face(forged, cert, issuers, code)


def test_every_byte_of_the_cv_certificate_is_protected(card_state, code, issuers):
    record, cert = stored(card_state)
    for at in range(len(cert)):
        forged = cert[:at] + bytes([cert[at] ^ 0x01]) + cert[at + 1:]
        with pytest.raises(CardFaceError):
            face.verify_card_face(record, forged, issuers, code)


def test_record_layout(card_state):
    record, cert = stored(card_state)
    parsed = face.parse_face_record(record)
    assert parsed.sex == "2" and parsed.birth == HOLDER.birth
    tag, _c, content, rest = tlv.parse_one(record)
    assert tag == b"\xff\x20" and rest == b""
    tags = [t for t, _v in tlv.parse_children(content)]
    assert tags == [C.TAG_FACE_OFFSETS, *face.FACE_TAGS]
    cv = face.CvCertificate.parse(cert)
    assert len(cv.body) == 297 and len(cv.signature) == 256
    assert face.key_id_text(cv.subject_key_id) == "9100001/001"


def test_malformed_records_are_card_face_errors(card_state, code, issuers):
    record, cert = stored(card_state)
    for bad in (b"", b"\xff\x20", b"\x30\x03\x02\x01\x00", record[:100], b"\xff\x20\x03\xdf\x22\x00"):
        with pytest.raises(CardFaceError):
            face.verify_card_face(bad, cert, issuers, code)
    with pytest.raises(CardFaceError, match="differs from the 照合番号B"):
        other = face.code_b(HOLDER.birth, int(code[6:10]) + 1, code[10:])
        face.verify_card_face(record, cert, issuers, other)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbage_is_only_ever_a_card_face_error(card_state, code, issuers, data):
    """Random bytes, and the real files with random slices replaced: CardFaceError or success,
    never another exception."""
    record, cert = stored(card_state)

    def mangled(original: bytes) -> bytes:
        if data.draw(st.booleans()):
            return data.draw(st.binary(max_size=600))
        start = data.draw(st.integers(0, len(original)))
        end = data.draw(st.integers(start, min(len(original), start + 40)))
        return original[:start] + data.draw(st.binary(max_size=40)) + original[end:]

    which = data.draw(st.sampled_from(["record", "cert", "both"]))
    bad_record = mangled(record) if which in ("record", "both") else record
    bad_cert = mangled(cert) if which in ("cert", "both") else cert
    try:
        face.verify_card_face(bad_record, bad_cert, issuers, code)
    except CardFaceError:
        pass


def test_text_ap_integrity_record_authenticates_the_four_facts(channel, code, issuers, card_state):
    """EF 0003 opens with the text PIN or 照合番号B; it verifies under the CV certificate's key
    (itself under the issuer key); any changed byte of the facts, the record or a CV
    certificate of another issuer is refused."""
    from madoguchi.card import text as T

    ap = TextAP(channel)
    with pytest.raises(A.SecurityStatusNotSatisfied):
        ap.read_integrity()
    ap.verify_code_b(code)
    attributes = channel.read_tlv_file(C.EF_TEXT_ATTRIBUTES)
    integrity, cv = ap.read_integrity(), ap.read_cv_certificate()
    facts = T.verify_text_record(attributes, integrity, cv, issuers)
    assert (facts.name, facts.birth, facts.sex) == (HOLDER.name, HOLDER.birth, HOLDER.sex)
    span = T.attributes_span(attributes)
    start = attributes.index(span)
    for i in range(start, start + len(span)):
        changed = bytearray(attributes)
        changed[i] ^= 0x01
        with pytest.raises((CardFaceError, A.MalformedAPDU)):
            T.verify_text_record(bytes(changed), integrity, cv, issuers)
    for i in range(len(integrity)):
        changed = bytearray(integrity)
        changed[i] ^= 0x01
        with pytest.raises((CardFaceError, A.MalformedAPDU)):
            T.verify_text_record(attributes, bytes(changed), cv, issuers)
    with pytest.raises(CardFaceError):
        T.verify_text_record(attributes, integrity, cv, {face.key_id("9000024"): next(iter(issuers.values()))})
