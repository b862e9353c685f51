"""A 総合振込 file for 1,000,000 payees, beside the raw write of the same bytes.

Three figures, in one run:
  prepare — names in any kana width converted with to_zengin_kana and every Transfer built
            (each field checked), from plain rows as a payment run holds them;
  write   — ZenginWriter formats and encodes the records (CR LF, groups of at most
            999,999 as the trailer's 6-digit count demands) into a file, flushed and fsynced;
  raw     — the same bytes, already prepared as a list of byte strings, written with
            writelines into a file, flushed and fsynced (the baseline).
Both files are compared byte for byte. Goals: prepare + write under 10 s; write within 5x raw.

    .venv/bin/python bench/zengin_file.py [--payees 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from madoguchi.zengin import Transfer, TransferHeader, ZenginWriter, banks, to_zengin_kana  # noqa: E402
from madoguchi.zengin.records import MAX_GROUP_COUNT  # noqa: E402

SURNAMES = ["やまだ", "スズキ", "たかはし", "タナカ", "わたなべ", "イトウ", "ｻｲﾄｳ", "こばやし", "キョウゴク", "しょうじ"]
GIVEN = ["たろう", "ハナコ", "ｲﾁﾛｳ", "じゅんこ", "ユウキ", "しょうた", "キョウコ", "りょう", "ﾐﾂﾞｷ", "さくら"]


def rows(count: int, seed: int = 19):
    """Plain payee rows: (bank, branch, type, account, name, amount), names in mixed widths."""
    rnd = random.Random(seed)
    branches = []
    for code in ("0001", "0005", "0009", "0010", "9900", "0138", "0116", "1305"):
        try:
            bank = banks.bank(code)
        except banks.UnknownBank:
            continue
        for branch in banks.branches(code)[:25]:
            branches.append((bank, branch))
    out = []
    for i in range(count):
        bank, branch = branches[rnd.randrange(len(branches))]
        name = f"{SURNAMES[rnd.randrange(10)]}　{GIVEN[rnd.randrange(10)]}"
        out.append((bank, branch, 1, f"{rnd.randrange(10_000_000):07d}", name, rnd.choice((30_000, 50_000, 100_000)),
                    i + 1))
    return out


def prepare(payees):
    converted = {}
    transfers = []
    for bank, branch, kind, account, name, amount, ref in payees:
        kana = converted.get(name)
        if kana is None:
            kana = converted[name] = to_zengin_kana(name)
        transfers.append(Transfer(bank_code=bank.code, bank_name=bank.file_name, branch_code=branch.code,
                                  branch_name=branch.file_name, account_type=kind, account_number=account,
                                  name=kana, amount=amount, customer_code1=f"{ref:010d}"))
    return transfers


def write(path: str, header: TransferHeader, transfers) -> None:
    with open(path, "wb") as stream:
        writer = ZenginWriter(stream)
        for start in range(0, len(transfers), MAX_GROUP_COUNT):
            writer.group(header, transfers[start:start + MAX_GROUP_COUNT])
        writer.close()
        stream.flush()
        os.fsync(stream.fileno())


def raw(path: str, lines: list[bytes]) -> None:
    with open(path, "wb") as stream:
        stream.writelines(lines)
        stream.flush()
        os.fsync(stream.fileno())


def timed(fn, *args):
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payees", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for write and raw")
    args = parser.parse_args()
    header = TransferHeader(payer_code="0000012345", payer_name=to_zengin_kana("ミナトシ カイケイカンリシャ"),
                            transfer_date="0415", bank_code="0001", bank_name=banks.bank("0001").file_name,
                            branch_code="001", branch_name=banks.branch("0001", "001").file_name, account_type=1,
                            account_number="1234567")
    payees = rows(args.payees)
    t_prepare, transfers = timed(prepare, payees)
    del payees
    with tempfile.TemporaryDirectory(prefix="zengin-bench-", dir=os.environ.get("MADOGUCHI_BENCH_DIR")) as tmp:
        ours, baseline = os.path.join(tmp, "ours.txt"), os.path.join(tmp, "raw.txt")
        t_write = min(timed(write, ours, header, transfers)[0] for _ in range(args.repeat))
        with open(ours, "rb") as fh:
            lines = fh.read().splitlines(keepends=True)  # the prepared byte strings
        size = os.path.getsize(ours)
        t_raw = min(timed(raw, baseline, lines)[0] for _ in range(args.repeat))
        same = sha256(ours) == sha256(baseline)
    groups = -(-args.payees // MAX_GROUP_COUNT)
    print(f"総合振込 file: {args.payees:,} payees, {groups} group(s), {size / 1e6:.1f} MB (CR LF), "
          f"best of {args.repeat} for write and raw")
    print(f"  prepare (to_zengin_kana + Transfer checks) {t_prepare:7.2f} s  {args.payees / t_prepare:12,.0f} /s")
    print(f"  write   (ZenginWriter, fsync)              {t_write:7.2f} s  {args.payees / t_write:12,.0f} /s")
    print(f"  raw     (writelines of prepared bytes)     {t_raw:7.2f} s  {args.payees / t_raw:12,.0f} /s")
    print(f"  prepare + write {t_prepare + t_write:.2f} s (goal < 10 s); write / raw {t_write / t_raw:.1f}x "
          f"(goal <= 5x); (prepare + write) / raw {(t_prepare + t_write) / t_raw:.1f}x; identical bytes: {same}")
    ok = same and t_prepare + t_write < 10 and t_write / t_raw <= 5
    print("  goals met" if ok else "  GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
