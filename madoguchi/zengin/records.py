"""全銀協 総合振込 files: 120-byte records, written and read.

A file is one or more groups — header (データ区分 1), data records (2), trailer (8) — and
one end record (9). Records are 120 bytes of JIS X 0201 in cp932, each followed by CR LF
or by nothing (the two forms every bank takes). `N` fields are digits, right-aligned and
zero-padded; `C` fields are Zengin characters (charset.py), left-aligned, space-padded.
The layout, position by position, is in docs/zengin.md.

The record types are frozen dataclasses that check every field when they are made, so a
`Transfer` that exists can be written; the writer only formats. Bad values raise
FieldError naming the field; a malformed file raises FormatError naming the record (1-based).
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO

from .charset import ZENGIN_CHARACTERS

# A C field's value: Zengin characters, neither starting nor ending with a space.
_CLASS = "[" + re.escape("".join(sorted(ZENGIN_CHARACTERS))) + "]"
_NON_SPACE = "[" + re.escape("".join(sorted(ZENGIN_CHARACTERS - {" "}))) + "]"
_FIELD_RE = re.compile(f"(?:{_NON_SPACE}(?:{_CLASS}*{_NON_SPACE})?)?")
_TRANSFER_DIGITS = re.compile(r"[0-9]{4}\|[0-9]{3}\|[0-9]{7}\|[0-9]{4}\|[0-9]{10}\|[0-9]{10}")

__all__ = [
    "RECORD_LENGTH", "CRLF", "KIND_SOGO_FURIKOMI", "MAX_GROUP_COUNT", "MAX_GROUP_TOTAL", "MAX_AMOUNT",
    "RESULT_REASONS", "FieldError", "FormatError", "TransferHeader", "Transfer", "TransferGroup", "TransferFile",
    "TransferResult", "ResultFile", "ZenginWriter", "write_transfers", "read_transfers", "read_results",
    "write_results",
]

RECORD_LENGTH = 120
CRLF = b"\r\n"
ENCODING = "cp932"
KIND_SOGO_FURIKOMI = "21"
MAX_GROUP_COUNT = 999_999          # trailer 合計件数 N(6)
MAX_GROUP_TOTAL = 999_999_999_999  # trailer 合計金額 N(12)
MAX_AMOUNT = 9_999_999_999         # data 振込金額 N(10)

#: 振込結果コード → reason. Banks differ: this is madoguchi's default table (docs/zengin.md),
#: modelled on the 全銀協 預金口座振替 result codes; pass your bank's table to read_results.
RESULT_REASONS: Mapping[str, str] = {
    "0": "振込済",
    "1": "取引なし(口座なし)",
    "2": "受取人名相違",
    "3": "口座解約済",
    "4": "預金者の都合による入金停止",
    "5": "預金種目・口座番号相違",
    "8": "依頼人の都合による取消",
    "9": "その他",
}

HEADER_ACCOUNT_TYPES = frozenset({1, 2, 9})       # 普通, 当座, その他
DATA_ACCOUNT_TYPES = frozenset({1, 2, 4, 9})      # 普通, 当座, 貯蓄, その他
NEW_CODES = frozenset({"0", "1", "2"})            # その他, 第1回振込分, 変更分
TRANSFER_KINDS = frozenset({"7", "8", " "})       # 電信, 文書, unspecified (the bank's default)


class FieldError(ValueError):
    """A value that cannot go into a field. `field` is the dataclass attribute."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class FormatError(ValueError):
    """A malformed file. `record` is the 1-based record number (None: the file as a whole)."""

    def __init__(self, record: int | None, message: str):
        self.record = record
        self.reason = message
        super().__init__(f"record {record}: {message}" if record else message)


def _digits(field: str, value: str, width: int) -> None:
    if type(value) is not str or len(value) != width or not value.isascii() or not value.isdigit():
        raise FieldError(field, f"must be exactly {width} digits, got {value!r}")


def _text(field: str, value: str, width: int, *, required: bool = False) -> None:
    # The common case in one regular expression: Zengin characters, no outer space.
    if type(value) is str and len(value) <= width and _FIELD_RE.fullmatch(value) and (value or not required):
        return
    if type(value) is not str:
        raise FieldError(field, f"must be text, got {value!r}")
    if len(value) > width:
        raise FieldError(field, f"longer than {width} characters: {value!r}")
    if required and not value.strip():
        raise FieldError(field, "must not be empty")
    if value.strip(" ") != value:
        raise FieldError(field, f"must not start or end with a space: {value!r}")
    bad = [c for c in value if c not in ZENGIN_CHARACTERS]
    raise FieldError(field, f"characters outside the Zengin set: {''.join(dict.fromkeys(bad))!r} "
                            f"(convert with to_zengin_kana)")


def _mmdd(field: str, value: str) -> None:
    _digits(field, value, 4)
    month, day = int(value[:2]), int(value[2:])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise FieldError(field, f"not a month and day (MMDD): {value!r}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TransferHeader:
    """ヘッダー・レコード: who pays (the municipality's account) and when."""

    payer_code: str            # 振込依頼人コード N(10), bank-assigned
    payer_name: str            # 振込依頼人名 C(40)
    transfer_date: str         # 振込指定日 MMDD
    bank_code: str             # 仕向銀行番号 N(4)
    branch_code: str           # 仕向支店番号 N(3)
    account_type: int          # 預金種目(依頼人) 1 普通, 2 当座, 9 その他
    account_number: str        # 口座番号(依頼人) N(7)
    bank_name: str = ""        # 仕向銀行名 C(15)
    branch_name: str = ""      # 仕向支店名 C(15)
    kind_code: str = KIND_SOGO_FURIKOMI  # 種別コード N(2)
    code_division: str = "0"   # コード区分: 0 JIS

    def __post_init__(self):
        _digits("payer_code", self.payer_code, 10)
        _text("payer_name", self.payer_name, 40, required=True)
        _mmdd("transfer_date", self.transfer_date)
        _digits("bank_code", self.bank_code, 4)
        _text("bank_name", self.bank_name, 15)
        _digits("branch_code", self.branch_code, 3)
        _text("branch_name", self.branch_name, 15)
        if self.account_type not in HEADER_ACCOUNT_TYPES or type(self.account_type) is not int:
            raise FieldError("account_type", f"must be 1, 2 or 9, got {self.account_type!r}")
        _digits("account_number", self.account_number, 7)
        if self.kind_code != KIND_SOGO_FURIKOMI:
            raise FieldError("kind_code", f"only 21 (総合振込) is written, got {self.kind_code!r}")
        if self.code_division != "0":
            raise FieldError("code_division", f"only 0 (JIS) is written, got {self.code_division!r}")

    def record(self) -> str:
        return (f"1{self.kind_code}{self.code_division}{self.payer_code}{self.payer_name:<40}"
                f"{self.transfer_date}{self.bank_code}{self.bank_name:<15}{self.branch_code}"
                f"{self.branch_name:<15}{self.account_type}{self.account_number}{'':17}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """データ・レコード: one payee and amount."""

    bank_code: str             # 被仕向銀行番号 N(4)
    branch_code: str           # 被仕向支店番号 N(3)
    account_type: int          # 預金種目 1 普通, 2 当座, 4 貯蓄, 9 その他
    account_number: str        # 口座番号 N(7)
    name: str                  # 受取人名 C(30)
    amount: int                # 振込金額 N(10), yen
    bank_name: str = ""        # 被仕向銀行名 C(15)
    branch_name: str = ""      # 被仕向支店名 C(15)
    clearing_house: str = "0000"  # 手形交換所番号 N(4), unused
    new_code: str = "0"        # 新規コード: 0 その他, 1 第1回振込分, 2 変更分
    customer_code1: str = "0000000000"  # 顧客コード1 N(10): the payer's reference
    customer_code2: str = "0000000000"  # 顧客コード2 N(10)
    edi: str | None = None     # EDI情報 C(20) in place of the customer codes (識別表示 Y)
    transfer_kind: str = "7"   # 振込指定区分: 7 電信, 8 文書, space: the bank's default

    def __post_init__(self):
        # The N fields in one regular expression when they are all strings; field by field
        # (to name the bad one) otherwise.
        if not (type(self.bank_code) is str and type(self.branch_code) is str and type(self.account_number) is str
                and type(self.clearing_house) is str and type(self.customer_code1) is str
                and type(self.customer_code2) is str and _TRANSFER_DIGITS.fullmatch(
                    f"{self.bank_code}|{self.branch_code}|{self.account_number}|{self.clearing_house}|"
                    f"{self.customer_code1}|{self.customer_code2}")):
            self._check_digits()
        if self.account_type not in DATA_ACCOUNT_TYPES or type(self.account_type) is not int:
            raise FieldError("account_type", f"must be 1, 2, 4 or 9, got {self.account_type!r}")
        _text("name", self.name, 30, required=True)
        if type(self.amount) is not int or not 1 <= self.amount <= MAX_AMOUNT:
            raise FieldError("amount", f"must be a whole number of yen from 1 to {MAX_AMOUNT:,}, got {self.amount!r}")
        _text("bank_name", self.bank_name, 15)
        _text("branch_name", self.branch_name, 15)
        if self.new_code not in NEW_CODES:
            raise FieldError("new_code", f"must be 0, 1 or 2, got {self.new_code!r}")
        if self.edi is not None:
            _text("edi", self.edi, 20)
            if self.customer_code1 != "0000000000" or self.customer_code2 != "0000000000":
                raise FieldError("edi", "EDI情報 takes the place of the customer codes: give one or the other")
        if self.transfer_kind not in TRANSFER_KINDS:
            raise FieldError("transfer_kind", f"must be 7 (電信), 8 (文書) or a space, got {self.transfer_kind!r}")

    def _check_digits(self) -> None:
        _digits("bank_code", self.bank_code, 4)
        _digits("branch_code", self.branch_code, 3)
        _digits("account_number", self.account_number, 7)
        _digits("clearing_house", self.clearing_house, 4)
        _digits("customer_code1", self.customer_code1, 10)
        _digits("customer_code2", self.customer_code2, 10)

    def record(self, result_code: str | None = None) -> str:
        """The 120 characters. With `result_code`, the bank's result record: the code
        replaces 振込指定区分 at position 112."""
        codes = f"{self.edi:<20}" if self.edi is not None else self.customer_code1 + self.customer_code2
        return (f"2{self.bank_code}{self.bank_name:<15}{self.branch_code}{self.branch_name:<15}"
                f"{self.clearing_house}{self.account_type}{self.account_number}{self.name:<30}"
                f"{self.amount:010d}{self.new_code}{codes}"
                f"{self.transfer_kind if result_code is None else result_code}"
                f"{'Y' if self.edi is not None else ' '}       ")


def _trailer(count: int, total: int) -> str:
    return f"8{count:06d}{total:012d}{'':101}"


_END = "9" + " " * 119


@dataclasses.dataclass(frozen=True, slots=True)
class TransferGroup:
    header: TransferHeader
    transfers: tuple[Transfer, ...]

    @property
    def count(self) -> int:
        return len(self.transfers)

    @property
    def total(self) -> int:
        return sum(t.amount for t in self.transfers)


@dataclasses.dataclass(frozen=True, slots=True)
class TransferFile:
    groups: tuple[TransferGroup, ...]
    newline: bytes  # b"\r\n" or b""

    @property
    def header(self) -> TransferHeader:
        """The header of a one-group file (most files)."""
        return self.groups[0].header

    @property
    def transfers(self) -> tuple[Transfer, ...]:
        return tuple(t for g in self.groups for t in g.transfers)

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)


class ZenginWriter:
    """Streams a file: `group(header, transfers)` once or more, then `close()` (the end
    record). Records are encoded in chunks, so a million transfers never sit in memory
    as one string. The stream is the caller's: write to a temporary file and rename it
    when close() returns, and a failure leaves nothing half-written behind."""

    CHUNK = 4096

    def __init__(self, stream: BinaryIO, *, newline: bytes = CRLF):
        if newline not in (CRLF, b""):
            raise FieldError("newline", "must be CR LF or nothing (banks refuse CR or LF alone)")
        self._stream = stream
        self._sep = newline.decode("ascii")
        self._groups = 0
        self._closed = False
        self.count = 0
        self.total = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()

    def _flush(self, lines: list[str]) -> None:
        if lines:
            sep = self._sep
            self._stream.write((sep.join(lines) + sep).encode(ENCODING))
            lines.clear()

    def group(self, header: TransferHeader, transfers: Iterable[Transfer]) -> tuple[int, int]:
        """Writes one header · data · trailer group; returns its (count, total)."""
        if self._closed:
            raise ValueError("the writer is closed")
        if type(header) is not TransferHeader:
            raise FieldError("header", f"must be a TransferHeader, got {type(header).__name__}")
        lines = [header.record()]
        count = total = 0
        chunk = self.CHUNK
        for transfer in transfers:
            if type(transfer) is not Transfer:
                raise FieldError("transfers", f"item {count + 1} is not a Transfer")
            count += 1
            total += transfer.amount
            lines.append(transfer.record())
            if len(lines) >= chunk:
                if count > MAX_GROUP_COUNT:
                    raise FieldError("transfers", f"a group holds at most {MAX_GROUP_COUNT:,} transfers "
                                                  f"(trailer 合計件数 is 6 digits): start another group")
                self._flush(lines)
        if count > MAX_GROUP_COUNT:
            raise FieldError("transfers", f"a group holds at most {MAX_GROUP_COUNT:,} transfers "
                                          f"(trailer 合計件数 is 6 digits): start another group")
        if total > MAX_GROUP_TOTAL:
            raise FieldError("transfers", f"the group's total {total:,} yen exceeds the 12-digit 合計金額")
        lines.append(_trailer(count, total))
        self._flush(lines)
        self._groups += 1
        self.count += count
        self.total += total
        return count, total

    def close(self) -> None:
        if self._closed:
            return
        if not self._groups:
            raise ValueError("a Zengin file needs at least one group")
        self._flush([_END])
        self._closed = True


def write_transfers(header: TransferHeader, transfers: Iterable[Transfer], *, newline: bytes = CRLF) -> bytes:
    """The bytes of a one-group 総合振込 file."""
    buffer = io.BytesIO()
    writer = ZenginWriter(buffer, newline=newline)
    writer.group(header, transfers)
    writer.close()
    return buffer.getvalue()


# ---------------------------------------------------------------- reading

def _split(data: bytes) -> tuple[list[bytes], bytes]:
    """The records (120 bytes each) and the newline the file uses: CR LF after every record
    (the last one may lack it) or nothing at all. One trailing EOF byte (0x1A, written by
    some DOS-era tools) is ignored."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError(None, "expected bytes")
    data = bytes(data)
    if data.endswith(b"\x1a"):
        data = data[:-1]
    if not data:
        raise FormatError(None, "the file is empty")
    records = []
    if data[RECORD_LENGTH:RECORD_LENGTH + 2] == CRLF:
        step = RECORD_LENGTH + 2
        for number, start in enumerate(range(0, len(data), step), 1):
            chunk = data[start:start + step]
            body = chunk[:RECORD_LENGTH]
            last = start + step >= len(data)
            if (len(body) != RECORD_LENGTH or b"\r" in body or b"\n" in body
                    or not (chunk[RECORD_LENGTH:] == CRLF or (last and len(chunk) == RECORD_LENGTH))):
                raise FormatError(number, f"is not {RECORD_LENGTH} bytes followed by CR LF like the records before it")
            records.append(body)
        return records, CRLF
    breaks = [i for i in (data.find(b"\r"), data.find(b"\n")) if i >= 0]
    if breaks:
        at = min(breaks)
        number, offset = divmod(at, RECORD_LENGTH)
        if offset == 0 and number:
            alone = "CR" if data[at] == 0x0D else "LF"
            raise FormatError(number, f"is followed by {alone} alone: records "
                                      f"are followed by CR LF or by nothing")
        raise FormatError(number + 1, f"has a line break after {offset} bytes: records are {RECORD_LENGTH} bytes")
    for number, start in enumerate(range(0, len(data), RECORD_LENGTH), 1):
        body = data[start:start + RECORD_LENGTH]
        if len(body) != RECORD_LENGTH:
            raise FormatError(number, f"is {len(body)} bytes long, not {RECORD_LENGTH}")
        records.append(body)
    return records, b""


def _decode(number: int, body: bytes) -> str:
    try:
        text = body.decode(ENCODING)
    except UnicodeDecodeError:
        raise FormatError(number, "holds bytes that are not JIS X 0201 / cp932") from None
    if len(text) != RECORD_LENGTH:
        raise FormatError(number, "holds double-byte characters: Zengin fields are half-width (JIS X 0201)")
    return text


def _n(number: int, text: str, start: int, width: int, name: str) -> str:
    """The N field at 1-based position `start`."""
    value = text[start - 1:start - 1 + width]
    if not (value.isascii() and value.isdigit()):
        raise FormatError(number, f"{name} (positions {start}–{start + width - 1}) is not numeric: {value!r}")
    return value


def _c(text: str, start: int, width: int) -> str:
    return text[start - 1:start - 1 + width].rstrip(" ")


def _parse_header(number: int, text: str) -> TransferHeader:
    kind = _n(number, text, 2, 2, "種別コード")
    if kind != KIND_SOGO_FURIKOMI:
        raise FormatError(number, f"種別コード {kind} is not 総合振込 (21)")
    division = _n(number, text, 4, 1, "コード区分")
    if division != "0":
        raise FormatError(number, f"コード区分 {division}: only 0 (JIS) is read")
    try:
        return TransferHeader(
            payer_code=_n(number, text, 5, 10, "振込依頼人コード"), payer_name=_c(text, 15, 40),
            transfer_date=_n(number, text, 55, 4, "振込指定日"),
            bank_code=_n(number, text, 59, 4, "仕向銀行番号"), bank_name=_c(text, 63, 15),
            branch_code=_n(number, text, 78, 3, "仕向支店番号"), branch_name=_c(text, 81, 15),
            account_type=int(_n(number, text, 96, 1, "預金種目")),
            account_number=_n(number, text, 97, 7, "口座番号"),
        )
    except FieldError as exc:
        raise FormatError(number, f"header: {exc}") from None


def _parse_transfer(number: int, text: str, *, result: bool = False) -> tuple[Transfer, str]:
    edi = text[112] == "Y"
    kind = text[111]
    try:
        transfer = Transfer(
            bank_code=_n(number, text, 2, 4, "被仕向銀行番号"), bank_name=_c(text, 6, 15),
            branch_code=_n(number, text, 21, 3, "被仕向支店番号"), branch_name=_c(text, 24, 15),
            clearing_house=_n(number, text, 39, 4, "手形交換所番号"),
            account_type=int(_n(number, text, 43, 1, "預金種目")),
            account_number=_n(number, text, 44, 7, "口座番号"), name=_c(text, 51, 30),
            amount=int(_n(number, text, 81, 10, "振込金額")),
            new_code=_n(number, text, 91, 1, "新規コード"),
            customer_code1="0000000000" if edi else _n(number, text, 92, 10, "顧客コード1"),
            customer_code2="0000000000" if edi else _n(number, text, 102, 10, "顧客コード2"),
            edi=_c(text, 92, 20) if edi else None,
            transfer_kind=" " if result else kind,
        )
    except FieldError as exc:
        raise FormatError(number, f"data: {exc}") from None
    return transfer, kind


def _groups(data: bytes) -> Iterator[tuple[int, str, str, bytes]]:
    """(record number, record type, text), checking the order header · data* · trailer … end."""
    records, newline = _split(data)
    state = "start"  # start | group | after-trailer | end
    for number, body in enumerate(records, 1):
        text = _decode(number, body)
        kind = text[0]
        if state == "end":
            raise FormatError(number, "follows the end record (9)")
        if kind == "1":
            if state == "group":
                raise FormatError(number, "a header (1) where the group's trailer (8) was expected")
            state = "group"
        elif kind == "2":
            if state != "group":
                raise FormatError(number, "a data record (2) outside a header · trailer group")
        elif kind == "8":
            if state != "group":
                raise FormatError(number, "a trailer (8) without its header (1)")
            state = "after-trailer"
        elif kind == "9":
            if state != "after-trailer":
                raise FormatError(number, "the end record (9) before a complete header · data · trailer group")
            state = "end"
        else:
            raise FormatError(number, f"unknown record type {kind!r} (データ区分 is 1, 2, 8 or 9)")
        yield number, kind, text, newline
    if state != "end":
        raise FormatError(len(records), "the file ends without its end record (9)")


def read_transfers(data: bytes) -> TransferFile:
    """Parses a 総合振込 request file; checks every field and each trailer's count and total."""
    groups: list[TransferGroup] = []
    header = None
    transfers: list[Transfer] = []
    total = 0
    newline = b""
    for number, kind, text, newline in _groups(data):
        if kind == "1":
            header, transfers, total = _parse_header(number, text), [], 0
        elif kind == "2":
            transfer, _ = _parse_transfer(number, text)
            transfers.append(transfer)
            total += transfer.amount
        elif kind == "8":
            count_field = int(_n(number, text, 2, 6, "合計件数"))
            total_field = int(_n(number, text, 8, 12, "合計金額"))
            if count_field != len(transfers):
                raise FormatError(number, f"trailer 合計件数 {count_field:,} but the group has {len(transfers):,} "
                                          f"data records")
            if total_field != total:
                raise FormatError(number, f"trailer 合計金額 {total_field:,} but the data records add up to {total:,}")
            groups.append(TransferGroup(header, tuple(transfers)))
    return TransferFile(tuple(groups), newline)


# ---------------------------------------------------------------- results

@dataclasses.dataclass(frozen=True, slots=True)
class TransferResult:
    transfer: Transfer
    code: str        # 振込結果コード: "0" paid, anything else failed (振込不能)
    reason: str      # the code's meaning from the reasons table
    record: int      # 1-based record number in the result file

    @property
    def paid(self) -> bool:
        return self.code == "0"


@dataclasses.dataclass(frozen=True, slots=True)
class ResultFile:
    header: TransferHeader
    results: tuple[TransferResult, ...]

    @property
    def paid(self) -> tuple[TransferResult, ...]:
        return tuple(r for r in self.results if r.paid)

    @property
    def failed(self) -> tuple[TransferResult, ...]:
        return tuple(r for r in self.results if not r.paid)


def read_results(data: bytes, *, reasons: Mapping[str, str] = RESULT_REASONS) -> ResultFile:
    """Parses the bank's result file for a 総合振込 request (one group): each data record as
    sent, with its 振込結果コード at position 112 (0 paid; otherwise 振込不能, the code
    naming the reason); the trailer adds 振込済 and 振込不能 counts and amounts after the
    totals, and every figure is checked."""
    header = None
    results: list[TransferResult] = []
    for number, kind, text, _newline in _groups(data):
        if kind == "1":
            if header is not None:
                raise FormatError(number, "a second group: a result file answers one request group")
            header = _parse_header(number, text)
        elif kind == "2":
            transfer, code = _parse_transfer(number, text, result=True)
            if code == " ":
                raise FormatError(number, "振込結果コード (position 112) is blank")
            results.append(TransferResult(transfer, code, reasons.get(code, f"不明な結果コード {code}"), number))
        elif kind == "8":
            figures = {
                "合計件数": (int(_n(number, text, 2, 6, "合計件数")), len(results)),
                "合計金額": (int(_n(number, text, 8, 12, "合計金額")), sum(r.transfer.amount for r in results)),
                "振込済件数": (int(_n(number, text, 20, 6, "振込済件数")), sum(1 for r in results if r.paid)),
                "振込済金額": (int(_n(number, text, 26, 12, "振込済金額")),
                          sum(r.transfer.amount for r in results if r.paid)),
                "振込不能件数": (int(_n(number, text, 38, 6, "振込不能件数")), sum(1 for r in results if not r.paid)),
                "振込不能金額": (int(_n(number, text, 44, 12, "振込不能金額")),
                            sum(r.transfer.amount for r in results if not r.paid)),
            }
            for name, (stated, counted) in figures.items():
                if stated != counted:
                    raise FormatError(number, f"trailer {name} {stated:,} but the data records give {counted:,}")
    return ResultFile(header, tuple(results))


def write_results(header: TransferHeader, results: Iterable[tuple[Transfer, str]], *,
                  newline: bytes = CRLF) -> bytes:
    """A result file as a bank returns it (for tests and the demo's bank): each transfer with
    its one-character result code."""
    if newline not in (CRLF, b""):
        raise FieldError("newline", "must be CR LF or nothing")
    lines = [header.record()]
    sums = {"count": 0, "total": 0, "paid": 0, "paid_total": 0}
    for transfer, code in results:
        if len(code) != 1 or code == " " or code not in ("0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
            raise FieldError("code", f"a result code is one digit or letter, got {code!r}")
        lines.append(transfer.record(result_code=code))
        sums["count"] += 1
        sums["total"] += transfer.amount
        if code == "0":
            sums["paid"] += 1
            sums["paid_total"] += transfer.amount
    failed, failed_total = sums["count"] - sums["paid"], sums["total"] - sums["paid_total"]
    lines.append(f"8{sums['count']:06d}{sums['total']:012d}{sums['paid']:06d}{sums['paid_total']:012d}"
                 f"{failed:06d}{failed_total:012d}{'':65}")
    lines.append(_END)
    sep = newline.decode("ascii")
    return (sep.join(lines) + sep).encode(ENCODING)
