"""`madoguchi zengin …`: 総合振込 files on the command line (no database, no Django).

    madoguchi zengin write PAYEES.csv --out FILE --payer-code N --payer-name KANA --date MMDD
                           --bank CODE --branch CODE --account-type N --account N
                           [--newline crlf|none] [--encoding utf-8-sig|cp932]
    madoguchi zengin read FILE [--results] [--quiet]
    madoguchi zengin bank-results FILE --out RESULTS [--fail N,N… --code C]

`bank-results` is the demo's bank, a stand-in that says what it is: it answers a 総合振込
file with the result file a bank returns (docs/zengin.md), every transfer paid except the
data records numbered in --fail (1 = the first transfer), failed with result code --code.

PAYEES.csv has a header row naming the columns bank,branch,type,account,name,amount (in
any order; other columns are ignored). Codes may have lost their leading zeros in a
spreadsheet (5 for 0005); names may be hiragana, full- or half-width katakana.

Exit codes: 0 done (the count and total printed); 1 refused — `write`: a row whose name or
codes cannot be carried, every such row reported with its line number and nothing
written; `read`: a malformed file (the record named); 2 bad arguments or an unreadable
input file (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

from . import banks
from .charset import UnconvertibleName, to_zengin_kana
from .records import (
    CRLF, DATA_ACCOUNT_TYPES, MAX_AMOUNT, MAX_GROUP_COUNT, FieldError, FormatError, Transfer, TransferHeader,
    RESULT_REASONS, ZenginWriter, read_results, read_transfers,
)

COLUMNS = ("bank", "branch", "type", "account", "name", "amount")
ACCOUNT_TYPE_NAMES = {1: "普通", 2: "当座", 4: "貯蓄", 9: "その他"}


class UsageError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _digits(width: int, label: str):
    def parse(text: str) -> str:
        text = text.strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= len(text) <= width:
            raise argparse.ArgumentTypeError(f"{label} must be 1 to {width} digits, got {text!r}")
        return text.zfill(width)
    return parse


def _mmdd(text: str) -> str:
    if not (len(text) == 4 and text.isascii() and text.isdigit()) or not (
            1 <= int(text[:2]) <= 12 and 1 <= int(text[2:]) <= 31):
        raise argparse.ArgumentTypeError(f"--date must be MMDD (e.g. 0415), got {text!r}")
    return text


def _kana(text: str) -> str:
    try:
        value = to_zengin_kana(text)
    except UnconvertibleName as exc:
        raise argparse.ArgumentTypeError(f"--payer-name {exc}") from None
    if not value or len(value) > 40:
        raise argparse.ArgumentTypeError(f"--payer-name must be 1 to 40 Zengin characters, got {len(value)}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="madoguchi zengin", description="全銀協 総合振込 files.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=OneLineParser)
    write = sub.add_parser("write", help="write a 総合振込 file from a CSV of payees (all or nothing)")
    write.add_argument("csv", metavar="PAYEES.csv")
    write.add_argument("--out", required=True, metavar="FILE")
    write.add_argument("--payer-code", required=True, type=_digits(10, "--payer-code"), metavar="N",
                       help="振込依頼人コード (委託者コード) the bank gave the municipality")
    write.add_argument("--payer-name", required=True, type=_kana, metavar="KANA", help="振込依頼人名, in kana")
    write.add_argument("--date", required=True, type=_mmdd, metavar="MMDD", help="振込指定日")
    write.add_argument("--bank", required=True, type=_digits(4, "--bank"), metavar="CODE", help="仕向銀行番号")
    write.add_argument("--branch", required=True, type=_digits(3, "--branch"), metavar="CODE", help="仕向支店番号")
    write.add_argument("--account-type", required=True, type=int, choices=[1, 2, 9], metavar="N",
                       help="預金種目 of the paying account: 1 普通, 2 当座, 9 その他")
    write.add_argument("--account", required=True, type=_digits(7, "--account"), metavar="N", help="口座番号")
    write.add_argument("--newline", choices=["crlf", "none"], default="crlf")
    write.add_argument("--encoding", choices=["utf-8-sig", "cp932"], default="utf-8-sig",
                       help="of PAYEES.csv (default UTF-8, with or without BOM)")
    read = sub.add_parser("read", help="print a 総合振込 file's records and check its totals")
    read.add_argument("file", metavar="FILE")
    read.add_argument("--results", action="store_true", help="FILE is the bank's result file (振込結果)")
    read.add_argument("--quiet", action="store_true", help="print only the summary")
    bank = sub.add_parser("bank-results", help="the demo's bank (a stand-in): answer a 総合振込 file with a result file")
    bank.add_argument("file", metavar="FILE")
    bank.add_argument("--out", required=True, metavar="RESULTS")
    bank.add_argument("--fail", default="", metavar="N,N", type=_numbers,
                      help="the transfers (1 = the first) the stand-in bank fails")
    bank.add_argument("--code", default="1", choices=sorted(set(RESULT_REASONS) - {"0"}), metavar="C",
                      help="振込結果コード of the failed ones (default 1: 取引なし(口座なし))")
    return p


def _numbers(text: str) -> set[int]:
    try:
        numbers = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fail takes transfer numbers like 1,3, not {text!r}") from None
    if any(n < 1 for n in numbers):
        raise argparse.ArgumentTypeError("--fail numbers start at 1")
    return numbers


def bank_results_command(args) -> int:
    from .records import write_results

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        parsed = read_transfers(data)
    except FormatError as exc:
        sys.stderr.write(f"madoguchi zengin: {args.file}: {exc}\n")
        return 1
    if len(parsed.groups) != 1:
        raise UsageError("the stand-in bank answers a file of one group")
    group = parsed.groups[0]
    if args.fail and max(args.fail) > len(group.transfers):
        raise UsageError(f"--fail {max(args.fail)}: the file has {len(group.transfers)} transfers")
    answer = write_results(group.header, [(t, args.code if n in args.fail else "0")
                                          for n, t in enumerate(group.transfers, start=1)])
    Path(args.out).write_bytes(answer)
    print(f"stand-in bank: {len(group.transfers) - len(args.fail):,} paid, {len(args.fail):,} failed "
          f"(code {args.code}) → {args.out}")
    return 0


def _row_transfer(row: dict, problems: list[str], line: int) -> Transfer | None:
    before = len(problems)

    def code(column: str, width: int) -> str | None:
        value = (row.get(column) or "").strip()
        if not (value.isascii() and value.isdigit()) or not 1 <= len(value) <= width:
            problems.append(f"line {line}: {column}: must be 1 to {width} digits, got {value!r}")
            return None
        return value.zfill(width)

    bank_code, branch_code, account = code("bank", 4), code("branch", 3), code("account", 7)
    bank = branch = None
    if bank_code:
        try:
            bank = banks.bank(bank_code)
        except banks.UnknownBank:
            problems.append(f"line {line}: bank: unknown bank code {bank_code}")
    if bank and branch_code:
        try:
            branch = banks.branch(bank_code, branch_code)
        except banks.UnknownBranch:
            problems.append(f"line {line}: branch: bank {bank_code} ({bank.name}) has no branch {branch_code}")
    kind = (row.get("type") or "").strip()
    if kind not in {str(t) for t in DATA_ACCOUNT_TYPES}:
        problems.append(f"line {line}: type: must be 1 普通, 2 当座, 4 貯蓄 or 9 その他, got {kind!r}")
    raw_name = row.get("name") or ""
    name = None
    try:
        name = to_zengin_kana(raw_name)
        if not name:
            problems.append(f"line {line}: name: empty")
        elif len(name) > 30:
            problems.append(f"line {line}: name: {len(name)} Zengin characters, at most 30 fit: {name}")
    except UnconvertibleName as exc:
        listed = ", ".join(f"{char!r} at character {index + 1}" for index, char in exc.problems)
        problems.append(f"line {line}: name: {raw_name!r} cannot be carried in a Zengin file: {listed}")
    amount_text = (row.get("amount") or "").strip()
    if not (amount_text.isascii() and amount_text.isdigit()) or not 1 <= int(amount_text) <= MAX_AMOUNT:
        problems.append(f"line {line}: amount: must be whole yen from 1 to {MAX_AMOUNT:,}, got {amount_text!r}")
    if len(problems) > before:
        return None
    try:
        return Transfer(bank_code=bank_code, bank_name=bank.file_name, branch_code=branch_code,
                        branch_name=branch.file_name, account_type=int(kind), account_number=account, name=name,
                        amount=int(amount_text))
    except FieldError as exc:  # pragma: no cover - every field was checked above
        problems.append(f"line {line}: {exc}")
        return None


def write_command(args) -> int:
    try:
        home = banks.bank(args.bank)
        home_branch = banks.branch(args.bank, args.branch)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    header = TransferHeader(payer_code=args.payer_code, payer_name=args.payer_name, transfer_date=args.date,
                            bank_code=args.bank, bank_name=home.file_name, branch_code=args.branch,
                            branch_name=home_branch.file_name, account_type=args.account_type,
                            account_number=args.account)
    try:
        handle = open(args.csv, newline="", encoding=args.encoding)
    except OSError as exc:
        raise UsageError(f"cannot read {args.csv}: {exc.strerror}") from None
    transfers: list[Transfer] = []
    problems: list[str] = []
    try:
        with handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(f"{args.csv}: the header row lacks the column(s) {', '.join(missing)} "
                                 f"(expected {','.join(COLUMNS)})")
            from tqdm import tqdm

            for row in tqdm(reader, desc="payees", unit="row", disable=None, leave=False):
                transfer = _row_transfer(row, problems, reader.line_num)
                if transfer is not None:
                    transfers.append(transfer)
    except UnicodeDecodeError:
        raise UsageError(f"{args.csv} is not {args.encoding} text (try --encoding cp932)") from None
    except csv.Error as exc:
        raise UsageError(f"{args.csv}: not a CSV file: {exc}") from None
    if problems:
        for problem in problems:
            sys.stderr.write(f"{args.csv}: {problem}\n")
        sys.stderr.write(f"madoguchi zengin: {len(problems)} problem(s); nothing written\n")
        return 1
    if not transfers:
        raise UsageError(f"{args.csv} has no payees")
    out = Path(args.out)
    newline = CRLF if args.newline == "crlf" else b""
    # A temporary file beside the target, renamed when complete: never a half-written file.
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", prefix=f".{out.name}.")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            writer = ZenginWriter(stream, newline=newline)
            for start in range(0, len(transfers), MAX_GROUP_COUNT):
                writer.group(header, transfers[start:start + MAX_GROUP_COUNT])
            writer.close()
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    print(f"wrote {out}: {writer.count:,} transfers, total {writer.total:,} yen")
    return 0


def _show_transfer(number: int, t: Transfer, extra: str = "") -> str:
    return (f"{number:>7}  {t.bank_code}-{t.branch_code} {t.bank_name:<15} {t.branch_name:<15} "
            f"{ACCOUNT_TYPE_NAMES.get(t.account_type, t.account_type)} {t.account_number}  {t.name:<30} "
            f"{t.amount:>14,}{extra}")


def read_command(args) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        if args.results:
            result = read_results(data)
        else:
            parsed = read_transfers(data)
    except FormatError as exc:
        sys.stderr.write(f"madoguchi zengin: {args.file}: {exc}\n")
        return 1
    if args.results:
        h = result.header
        print(f"header  依頼人 {h.payer_code} {h.payer_name}  振込指定日 {h.transfer_date}  "
              f"from {h.bank_code}-{h.branch_code} {ACCOUNT_TYPE_NAMES.get(h.account_type)} {h.account_number}")
        if not args.quiet:
            for r in result.results:
                print(_show_transfer(r.record, r.transfer, f"  {r.code} {r.reason}"))
        paid, failed = result.paid, result.failed
        print(f"paid {len(paid):,} ({sum(r.transfer.amount for r in paid):,} yen), "
              f"failed {len(failed):,} ({sum(r.transfer.amount for r in failed):,} yen); totals check")
        return 0
    record = 0
    for group in parsed.groups:
        record += 1
        h = group.header
        print(f"header  依頼人 {h.payer_code} {h.payer_name}  振込指定日 {h.transfer_date}  "
              f"from {h.bank_code}-{h.branch_code} {ACCOUNT_TYPE_NAMES.get(h.account_type)} {h.account_number}")
        for t in group.transfers:
            record += 1
            if not args.quiet:
                print(_show_transfer(record, t))
        record += 1
        print(f"trailer {group.count:,} transfers, {group.total:,} yen")
    print(f"{parsed.count:,} transfers, total {parsed.total:,} yen in {len(parsed.groups)} group(s); "
          f"newline {'CR LF' if parsed.newline else 'none'}; totals check")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.action == "write":
            return write_command(args)
        if args.action == "bank-results":
            return bank_results_command(args)
        return read_command(args)
    except UsageError as exc:
        sys.stderr.write(f"madoguchi zengin: {exc}\n")
        return 2
    except BrokenPipeError:  # `madoguchi zengin read FILE | head`
        return 0
