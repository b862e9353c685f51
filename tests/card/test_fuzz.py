"""Malformed, truncated and oversized APDUs and TLVs, and wrong status words, never crash:
they raise the typed error (client side) or answer a status word (card side)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.card import apdu as A
from madoguchi.card import tlv, virtual
from madoguchi.card.jpki import JpkiAP
from madoguchi.card.text import decode_attributes, decode_individual_number
from madoguchi.card.transport import Channel

# No deadline and no too_slow health check: a loaded 2-core CI machine must not make these flaky.
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

commands = st.builds(
    A.Command,
    cla=st.integers(0, 255), ins=st.integers(0, 255), p1=st.integers(0, 255), p2=st.integers(0, 255),
    data=st.binary(max_size=600), le=st.one_of(st.none(), st.integers(1, 65536)),
)


@FUZZ
@given(commands)
def test_command_round_trip(cmd):
    assert A.Command.parse(cmd.to_bytes()) == cmd


@FUZZ
@given(st.binary(max_size=700))
def test_command_parse_never_crashes(raw):
    try:
        cmd = A.Command.parse(raw)
    except A.MalformedAPDU as exc:
        assert exc.sw in (A.SW_WRONG_LENGTH, None)
        return
    assert cmd.to_bytes() == raw or len(raw) > 4  # non-canonical encodings may re-encode differently


@FUZZ
@given(st.binary(max_size=300))
def test_response_parse_never_crashes(raw):
    try:
        response = A.Response.parse(raw)
    except A.MalformedAPDU:
        assert len(raw) < 2
        return
    assert response.to_bytes() == raw
    try:
        response.check()
    except A.CardError:
        assert response.sw != 0x9000


@FUZZ
@given(st.integers(0, 0xFFFF))
def test_every_status_word_maps_to_a_typed_error(sw):
    error = A.error_for(sw)
    if sw == 0x9000:
        assert error is None
    else:
        assert isinstance(error, A.CardError) and error.sw == sw
    if 0x63C1 <= sw <= 0x63CF:
        assert isinstance(error, A.WrongPin) and error.tries_left == sw & 0xF
    if sw in (0x63C0, 0x6984):
        assert isinstance(error, A.PinBlocked)
    if sw == 0x6982:
        assert isinstance(error, A.SecurityStatusNotSatisfied)
    if sw == 0x6A82:
        assert isinstance(error, A.FileNotFound)
    if sw in (0x6A86, 0x6700):
        assert isinstance(error, A.WrongParameters)


@FUZZ
@given(st.binary(max_size=64))
def test_tlv_header_never_crashes(raw):
    try:
        header, length = tlv.header_length(raw)
    except A.MalformedAPDU:
        return
    assert 2 <= header <= 7 and header + length <= tlv.MAX_FILE_LENGTH


@FUZZ
@given(st.binary(max_size=400))
def test_tlv_records_never_crash(raw):
    for decode in (decode_attributes, decode_individual_number, tlv.parse_children):
        try:
            decode(raw)
        except A.MalformedAPDU:
            pass


RECORD = virtual.attribute_record("窓口\u3000花子", "東京都千代田区霞が関２丁目１番２号", dt.date(1990, 1, 2), "2")


def test_attribute_record_round_trip():
    facts = decode_attributes(RECORD)
    assert (facts.name, facts.birth, facts.sex) == ("窓口\u3000花子", dt.date(1990, 1, 2), "2")
    offsets = tlv.parse_children(tlv.parse_one(RECORD)[2])[0][1]
    positions = [int.from_bytes(offsets[i:i + 2], "big") for i in range(0, 8, 2)]
    # DF21 offsets point at each field's tag, counted from the start of the file
    assert [RECORD[p:p + 2] for p in positions] == [b"\xdf\x22", b"\xdf\x23", b"\xdf\x24", b"\xdf\x25"]


END = len(RECORD.rstrip(b"\xff"))  # the record proper; 0xFF padding fills the file after it


@pytest.mark.parametrize("cut", range(1, END))
def test_truncated_attribute_record_is_malformed(cut):
    with pytest.raises(A.MalformedAPDU):
        decode_attributes(RECORD[:cut])


@pytest.mark.parametrize("cut", sorted({END, END + 1, END + 19, 256, len(RECORD) - 1, len(RECORD)}))
def test_a_record_cut_only_in_its_padding_decodes_whole(cut):
    assert decode_attributes(RECORD[:cut]) == decode_attributes(RECORD)


@FUZZ
@given(st.integers(0, len(RECORD) - 1), st.integers(0, 255))
def test_corrupted_attribute_record_never_crashes(position, value):
    corrupted = bytearray(RECORD)
    corrupted[position] = value
    try:
        decode_attributes(bytes(corrupted))
    except A.MalformedAPDU:
        pass


def test_individual_number_record():
    from tests.card.test_applications import synthetic_number

    number = synthetic_number(42)
    record = virtual.mynumber_record(number)
    assert len(record) == 17 and record[:3] == b"\xff\x10\x0c"
    assert decode_individual_number(record) == number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(A.MalformedAPDU):
        decode_individual_number(virtual.mynumber_record(wrong))  # wrong check digit
    for cut in range(15):
        with pytest.raises(A.MalformedAPDU):
            decode_individual_number(record[:cut])


@pytest.fixture(scope="module")
def fuzz_card(card_template, tmp_path_factory):
    import shutil

    target = tmp_path_factory.mktemp("fuzz") / "card"
    shutil.copytree(card_template, target)  # fuzzed VERIFYs may block its PINs
    return virtual.VirtualCard(target)


@FUZZ
@given(st.one_of(st.binary(max_size=300), commands.map(lambda c: c.to_bytes())))
def test_virtual_card_answers_anything_with_a_status_word(fuzz_card, raw):
    card = fuzz_card
    card.power_on()
    card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    response = card.transmit(raw)
    assert len(response) >= 2
    sw = int.from_bytes(response[-2:], "big")
    assert sw >> 8 in (0x90, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6B, 0x6D, 0x6E)
    if sw >> 8 == 0x63:
        assert sw & 0xF0 == 0xC0


class ScriptedTransport:
    """A card that answers every command with fuzzed bytes."""

    def __init__(self, answers):
        self.answers = list(answers)

    def transmit(self, raw):
        return self.answers.pop(0) if self.answers else b"\x90\x00"

    def close(self):
        pass


@FUZZ
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12))
def test_client_raises_only_card_errors_on_garbage(answers):
    ap = JpkiAP(Channel(ScriptedTransport(answers)))
    for operation in (lambda: ap.certificate("auth"), lambda: ap.pin_status("sign"), ap.token_label,
                      lambda: ap.sign_digest("auth", b"\x00" * 32)):
        try:
            operation()
        except A.CardError:
            pass


@FUZZ
@given(st.integers(0, 0xFFFF), st.binary(max_size=8))
def test_client_maps_wrong_status_words(sw, data):
    channel = Channel(ScriptedTransport([data + sw.to_bytes(2, "big")] * 4))
    try:
        channel.send(A.select_aid(b"\xd3\x92"))
    except A.CardError as exc:
        assert sw != 0x9000 and isinstance(exc, A.CardError)
