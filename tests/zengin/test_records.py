"""総合振込 files byte by byte: the positions of the published layout (docs/zengin.md),
write → read giving back every record, and a malformed file refused with its record."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.zengin import (
    FieldError, FormatError, Transfer, TransferHeader, ZenginWriter, read_results, read_transfers, write_results,
    write_transfers,
)
from madoguchi.zengin.charset import ZENGIN_CHARACTERS

HEADER = TransferHeader(payer_code="0000012345", payer_name="ﾐﾅﾄｼ ｶｲｹｲｶﾝﾘｼﾔ", transfer_date="0415",
                        bank_code="0001", bank_name="ﾐｽﾞﾎ", branch_code="001", branch_name="ﾄｳｷﾖｳ",
                        account_type=1, account_number="1234567")
T1 = Transfer(bank_code="0005", bank_name="ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ", branch_code="123", branch_name="ﾎﾝﾃﾝ", account_type=1,
              account_number="0000567", name="ﾔﾏﾀﾞ ﾀﾛｳ", amount=100_000, customer_code1="0000000042")
T2 = Transfer(bank_code="9900", branch_code="018", account_type=2, account_number="7654321", name="ｶ)ﾐﾅﾄｼﾖｳｼﾞ",
              amount=5, edi="KYUFU 2026", new_code="1", transfer_kind="8")


def field(record: bytes, start: int, width: int) -> bytes:
    """The bytes at 1-based `start`, as the layout tables count."""
    return record[start - 1:start - 1 + width]


def test_every_position_of_the_layout():
    data = write_transfers(HEADER, [T1, T2])
    records = data.split(b"\r\n")
    assert records[-1] == b"" and len(records) == 6
    header, d1, d2, trailer, end = records[:5]
    assert all(len(r) == 120 for r in (header, d1, d2, trailer, end))
    # Header
    assert field(header, 1, 1) == b"1" and field(header, 2, 2) == b"21" and field(header, 4, 1) == b"0"
    assert field(header, 5, 10) == b"0000012345"
    assert field(header, 15, 40) == "ﾐﾅﾄｼ ｶｲｹｲｶﾝﾘｼﾔ".encode("cp932").ljust(40)
    assert field(header, 55, 4) == b"0415" and field(header, 59, 4) == b"0001"
    assert field(header, 63, 15) == "ﾐｽﾞﾎ".encode("cp932").ljust(15)
    assert field(header, 78, 3) == b"001" and field(header, 81, 15) == "ﾄｳｷﾖｳ".encode("cp932").ljust(15)
    assert field(header, 96, 1) == b"1" and field(header, 97, 7) == b"1234567" and field(header, 104, 17) == b" " * 17
    # Data: customer codes
    assert field(d1, 1, 1) == b"2" and field(d1, 2, 4) == b"0005"
    assert field(d1, 6, 15) == "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ".encode("cp932").ljust(15)
    assert field(d1, 21, 3) == b"123" and field(d1, 24, 15) == "ﾎﾝﾃﾝ".encode("cp932").ljust(15)
    assert field(d1, 39, 4) == b"0000" and field(d1, 43, 1) == b"1" and field(d1, 44, 7) == b"0000567"
    assert field(d1, 51, 30) == "ﾔﾏﾀﾞ ﾀﾛｳ".encode("cp932").ljust(30)
    assert field(d1, 81, 10) == b"0000100000" and field(d1, 91, 1) == b"0"
    assert field(d1, 92, 10) == b"0000000042" and field(d1, 102, 10) == b"0000000000"
    assert field(d1, 112, 1) == b"7" and field(d1, 113, 1) == b" " and field(d1, 114, 7) == b" " * 7
    # Data: EDI information in place of the customer codes
    assert field(d2, 6, 15) == b" " * 15 and field(d2, 43, 1) == b"2" and field(d2, 91, 1) == b"1"
    assert field(d2, 92, 20) == b"KYUFU 2026".ljust(20) and field(d2, 112, 1) == b"8" and field(d2, 113, 1) == b"Y"
    # Trailer and end
    assert field(trailer, 1, 1) == b"8" and field(trailer, 2, 6) == b"000002"
    assert field(trailer, 8, 12) == b"000000100005" and field(trailer, 20, 101) == b" " * 101
    assert end == b"9" + b" " * 119
    # Half-width kana are single bytes of JIS X 0201 (ﾔ = 0xD4).
    assert field(d1, 51, 1) == b"\xd4"


def test_no_newline_form_and_round_trip():
    data = write_transfers(HEADER, [T1, T2], newline=b"")
    assert len(data) == 5 * 120 and b"\r" not in data and b"\n" not in data
    parsed = read_transfers(data)
    assert parsed.newline == b"" and parsed.header == HEADER and parsed.transfers == (T1, T2)
    assert (parsed.count, parsed.total) == (2, 100_005)


def test_cr_or_lf_alone_is_refused_by_the_writer():
    for newline in (b"\n", b"\r", b"\n\r"):
        with pytest.raises(FieldError):
            write_transfers(HEADER, [T1], newline=newline)


def test_several_groups_in_one_file():
    other = TransferHeader(**{**{f: getattr(HEADER, f) for f in HEADER.__dataclass_fields__}, "transfer_date": "0416"})
    import io
    buffer = io.BytesIO()
    with ZenginWriter(buffer) as writer:
        assert writer.group(HEADER, [T1]) == (1, 100_000)
        assert writer.group(other, [T2, T1]) == (2, 100_005)
    parsed = read_transfers(buffer.getvalue())
    assert [g.header.transfer_date for g in parsed.groups] == ["0415", "0416"]
    assert parsed.transfers == (T1, T2, T1) and parsed.total == 200_005


@pytest.mark.parametrize("changes, field_name", [
    ({"bank_code": "005"}, "bank_code"), ({"bank_code": "０００５"}, "bank_code"), ({"branch_code": "12a"}, "branch_code"),
    ({"account_number": "123456"}, "account_number"), ({"account_number": "12345678"}, "account_number"),
    ({"account_type": 3}, "account_type"), ({"account_type": "1"}, "account_type"),
    ({"name": "山田"}, "name"), ({"name": "ﾔﾏﾀﾞ "}, "name"), ({"name": ""}, "name"), ({"name": "ｱ" * 31}, "name"),
    ({"name": "ｷｭｳﾖ"}, "name"), ({"amount": 0}, "amount"), ({"amount": 10_000_000_000}, "amount"),
    ({"amount": 1.5}, "amount"), ({"new_code": "3"}, "new_code"), ({"customer_code1": "42"}, "customer_code1"),
    ({"edi": "ABC", "customer_code1": "0000000001"}, "edi"), ({"edi": "ab"}, "edi"),
    ({"transfer_kind": "9"}, "transfer_kind"), ({"bank_name": "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲｷﾞﾝｺｳ"}, "bank_name"),
])
def test_bad_transfer_fields_name_the_field(changes, field_name):
    values = {f: getattr(T1, f) for f in T1.__dataclass_fields__}
    with pytest.raises(FieldError) as caught:
        Transfer(**{**values, **changes})
    assert caught.value.field == field_name


@pytest.mark.parametrize("changes, field_name", [
    ({"payer_code": "12345"}, "payer_code"), ({"payer_name": ""}, "payer_name"), ({"transfer_date": "1301"}, "transfer_date"),
    ({"transfer_date": "0400"}, "transfer_date"), ({"account_type": 4}, "account_type"), ({"kind_code": "11"}, "kind_code"),
])
def test_bad_header_fields_name_the_field(changes, field_name):
    values = {f: getattr(HEADER, f) for f in HEADER.__dataclass_fields__}
    with pytest.raises(FieldError) as caught:
        TransferHeader(**{**values, **changes})
    assert caught.value.field == field_name


# ------------------------------------------------------------------ malformed files

def good() -> bytes:
    return write_transfers(HEADER, [T1, T2])


def replace_record(data: bytes, index: int, record: bytes) -> bytes:
    records = data.split(b"\r\n")
    records[index] = record
    return b"\r\n".join(records)


@pytest.mark.parametrize("mangle, record, words", [
    (lambda d: replace_record(d, 3, b"8000003000000100005" + b" " * 101), 4, "合計件数"),
    (lambda d: replace_record(d, 3, b"8000002000000100006" + b" " * 101), 4, "合計金額"),
    (lambda d: replace_record(d, 1, b"7" + d.split(b"\r\n")[1][1:]), 2, "unknown record type"),
    (lambda d: replace_record(d, 1, d.split(b"\r\n")[1][:119]), 2, "120 bytes"),
    (lambda d: replace_record(d, 1, d.split(b"\r\n")[1][:80] + b"00001000x0" + d.split(b"\r\n")[1][90:]), 2,
     "振込金額"),
    (lambda d: d.replace(b"\r\n", b"\n"), 1, "LF alone"),
    (lambda d: d[:50] + b"\r\n" + d[52:], 1, "120 bytes followed by CR LF"),
    (lambda d: d.replace(b"\r\n", b"")[:50] + b"\n" + d.replace(b"\r\n", b"")[51:], 1, "line break after 50"),
    (lambda d: b"\r\n".join(d.split(b"\r\n")[:4]) + b"\r\n", 4, "end record"),
    (lambda d: b"\r\n".join(d.split(b"\r\n")[1:]), 1, "outside a header"),
    (lambda d: d + d.split(b"\r\n")[1] + b"\r\n", 6, "follows the end record"),
    (lambda d: replace_record(d, 0, b"111" + d.split(b"\r\n")[0][3:]), 1, "種別コード 11"),
    (lambda d: replace_record(d, 1, d.split(b"\r\n")[1][:50] + "山田".encode("cp932") +
                              d.split(b"\r\n")[1][54:]), 2, "double-byte"),
    (lambda d: replace_record(d, 1, d.split(b"\r\n")[1][:42] + b"3" + d.split(b"\r\n")[1][43:]), 2,
     "account_type"),
])
def test_malformed_files_name_the_record(mangle, record, words):
    with pytest.raises(FormatError) as caught:
        read_transfers(mangle(good()))
    assert caught.value.record == record, str(caught.value)
    assert words in str(caught.value)


def test_empty_and_non_bytes_input():
    with pytest.raises(FormatError):
        read_transfers(b"")
    with pytest.raises(FormatError):
        read_transfers("text")


def test_a_final_eof_byte_and_a_missing_last_crlf_are_accepted():
    assert read_transfers(good() + b"\x1a").transfers == (T1, T2)
    assert read_transfers(good()[:-2]).transfers == (T1, T2)


# ------------------------------------------------------------------ results

def test_result_file_marks_failed_transfers_with_their_reason():
    data = write_results(HEADER, [(T1, "0"), (T2, "2")])
    assert data.split(b"\r\n")[2][111:112] == b"2"
    trailer = data.split(b"\r\n")[3]
    assert field(trailer, 2, 6) == b"000002" and field(trailer, 20, 6) == b"000001"
    assert field(trailer, 26, 12) == b"000000100000" and field(trailer, 38, 6) == b"000001"
    assert field(trailer, 44, 12) == b"000000000005"
    result = read_results(data)
    assert result.header == HEADER
    assert [r.transfer.customer_code1 for r in result.paid] == ["0000000042"]
    (failed,) = result.failed
    assert (failed.code, failed.reason, failed.record, failed.transfer.name) == ("2", "受取人名相違", 3, T2.name)
    custom = read_results(data, reasons={"0": "済", "2": "名義相違"})
    assert custom.failed[0].reason == "名義相違"


def test_result_file_with_wrong_figures_is_refused():
    data = write_results(HEADER, [(T1, "0"), (T2, "2")])
    records = data.split(b"\r\n")
    bad = bytearray(records[3])
    bad[19:25] = b"000002"  # 振込済件数 2, but one was paid
    with pytest.raises(FormatError) as caught:
        read_results(replace_record(data, 3, bytes(bad)))
    assert caught.value.record == 4 and "振込済件数" in str(caught.value)
    blank = bytearray(records[1])
    blank[111] = ord(" ")
    with pytest.raises(FormatError) as caught:
        read_results(replace_record(data, 1, bytes(blank)))
    assert caught.value.record == 2 and "振込結果コード" in str(caught.value)


# ------------------------------------------------------------------ property: write → read

def digits(n):
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def zengin_text(max_size, min_size=0):
    return st.text(alphabet=sorted(ZENGIN_CHARACTERS), min_size=min_size, max_size=max_size).map(
        lambda s: s.strip(" ")).filter(lambda s: len(s) >= min_size)


headers = st.builds(
    TransferHeader, payer_code=digits(10), payer_name=zengin_text(40, 1), transfer_date=st.tuples(
        st.integers(1, 12), st.integers(1, 31)).map(lambda md: f"{md[0]:02d}{md[1]:02d}"),
    bank_code=digits(4), bank_name=zengin_text(15), branch_code=digits(3), branch_name=zengin_text(15),
    account_type=st.sampled_from([1, 2, 9]), account_number=digits(7))


@st.composite
def transfers(draw):
    edi = draw(st.one_of(st.none(), zengin_text(20)))
    return Transfer(
        bank_code=draw(digits(4)), bank_name=draw(zengin_text(15)), branch_code=draw(digits(3)),
        branch_name=draw(zengin_text(15)), account_type=draw(st.sampled_from([1, 2, 4, 9])),
        account_number=draw(digits(7)), name=draw(zengin_text(30, 1)), amount=draw(st.integers(1, 9_999_999_999)),
        clearing_house=draw(digits(4)), new_code=draw(st.sampled_from("012")),
        customer_code1="0000000000" if edi is not None else draw(digits(10)),
        customer_code2="0000000000" if edi is not None else draw(digits(10)),
        edi=edi, transfer_kind=draw(st.sampled_from("78 ")))


@settings(max_examples=200, deadline=None)
@given(headers, st.lists(transfers(), min_size=0, max_size=30), st.sampled_from([b"\r\n", b""]))
def test_write_then_read_gives_back_every_record(header, items, newline):
    data = write_transfers(header, items, newline=newline)
    assert len(data) == (len(items) + 3) * (120 + len(newline))
    parsed = read_transfers(data)
    assert parsed.header == header
    assert parsed.transfers == tuple(items)
    assert parsed.newline == newline
    assert parsed.total == sum(t.amount for t in items)


@settings(max_examples=100, deadline=None)
@given(headers, st.lists(st.tuples(transfers(), st.sampled_from("0123459")), max_size=20))
def test_results_round_trip(header, items):
    result = read_results(write_results(header, items))
    assert [(r.transfer.name, r.transfer.amount, r.code) for r in result.results] == [
        (t.name, t.amount, c) for t, c in items]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 600), st.binary(min_size=1, max_size=8))
def test_mangled_files_end_in_format_error_never_a_crash(noise, at, insert):
    data = good()
    at = min(at, len(data))
    for candidate in (noise, data[:at] + insert + data[at:], data[:at]):
        try:
            read_transfers(candidate)
        except FormatError:
            pass
