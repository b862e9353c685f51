"""CRL at national scale: a 1,000,000-serial CRL from a JPKI-shaped CA, imported and indexed,
against `openssl crl -inform DER -noout -in FILE` on the same file, in the same run; lookups
per second; resident memory of the index; restart from the persisted index. With
--ten-million, also a 10,000,000-serial index and its memory (goal <= 2 GB).

Goals: import <= 2x openssl; >= 1,000,000 lookups/s.

    .venv/bin/python bench/pki_crl.py [--serials 1000000] [--ten-million]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from madoguchi.pki import crlindex, testing, trust  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def best_of(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def one_size(ca, store, n: int, workdir: str, repeats: int, lookups: bool) -> None:
    t = time.perf_counter()
    serials = [random.getrandbits(159) | (1 << 152) for _ in range(n)]  # 20-byte serials, like real ones
    der = testing.big_crl_der(ca, serials, reason=3)  # affiliationChanged: a move or a new name
    path = os.path.join(workdir, f"crl-{n}.der")
    with open(path, "wb") as fh:
        fh.write(der)
    print(f"\n{n:,} revoked serials: CRL of {len(der) / 2**20:,.1f} MiB built in {time.perf_counter() - t:.1f} s")
    del der
    gc.collect()

    if shutil.which("openssl"):
        def run_openssl():
            subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-in", path], check=True)
        base = best_of(repeats, run_openssl)
    else:
        base = float("nan")

    data = open(path, "rb").read()
    before = rss_mb()
    holder = []

    def run_ours():
        holder.clear()
        gc.collect()
        holder.append(crlindex.CRLIndex.from_crl(data, store))
    ours = best_of(repeats, run_ours)
    idx = holder[0]
    index_mb = rss_mb() - before
    print(f"baseline  openssl crl -inform DER -noout            : {base:7.2f} s")
    print(f"ours      import (parse, signature, freshness, index): {ours:7.2f} s   ratio {ours / base:.2f}x "
          "(goal <= 2x)")
    print(f"          resident memory of the index (incl. the {len(data) / 2**20:,.0f} MiB CRL held): "
          f"{index_mb:,.0f} MiB")

    t = time.perf_counter()
    saved = idx.save(os.path.join(workdir, f"{n}.idx"))
    save_s = time.perf_counter() - t
    del holder[:], idx, data
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    idx = crlindex.CRLIndex.load(saved)
    load_s = time.perf_counter() - t
    print(f"          persist {save_s:.2f} s; restart from the index file {load_s:.2f} s, "
          f"resident {rss_mb() - before:,.0f} MiB (CRL bytes mapped, paged in on hits only)")

    if lookups:
        probes = [random.getrandbits(159) for _ in range(1_000_000)]
        look = idx.lookup
        t = time.perf_counter()
        for s in probes:
            look(s)
        miss_rate = len(probes) / (time.perf_counter() - t)
        hits = random.sample(serials, 20_000)
        t = time.perf_counter()
        for s in hits:
            e = look(s)
        hit_rate = len(hits) / (time.perf_counter() - t)
        assert e is not None and e.reason == "affiliationChanged"
        print(f"ours      lookups (not revoked, the usual answer)   : {miss_rate:12,.0f} /s (goal >= 1,000,000/s)")
        print(f"ours      lookups that hit (entry decoded)          : {hit_rate:12,.0f} /s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serials", type=int, default=1_000_000)
    ap.add_argument("--ten-million", action="store_true", help="also build and measure a 10,000,000-serial index")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ca = testing.make_ca("sign")
    store = trust.TrustStore()
    store.add(ca.cert, "sign")
    with tempfile.TemporaryDirectory(prefix="pki-crl-bench-") as workdir:
        one_size(ca, store, args.serials, workdir, args.repeats, lookups=True)
        if args.ten_million:
            one_size(ca, store, 10_000_000, workdir, 1, lookups=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
