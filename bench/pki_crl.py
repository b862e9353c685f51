"""CRL at national scale: a 1,000,000-serial CRL from a JPKI-shaped CA, imported and indexed,
against `openssl crl -inform DER -noout -in FILE` on the same file, in the same run; lookups
per second; resident memory of the index; restart from the persisted index. With
--ten-million, also a 10,000,000-serial index and its memory (goal <= 2 GB).

Goals: import <= 2x openssl; >= 1,000,000 lookups/s. Our import, lookups and memory are
measured in fresh child processes, so the generator's garbage does not blur the figures.

    .venv/bin/python bench/pki_crl.py [--serials 1000000] [--ten-million]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from madoguchi.pki import crlindex, testing, trust  # noqa: E402


def hwm_mb() -> float:
    """Peak resident set of this process (VmHWM: per address space, so not inherited via fork+exec
    like ru_maxrss)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(mode: str, path: str, ca_pem: str, repeats: int, probes_file: str | None) -> None:
    """Runs in a fresh process; prints one JSON line."""
    store = trust.TrustStore()
    store.add(trust.load_certificates(open(ca_pem, "rb").read())[0], "sign")
    out: dict = {}
    if mode == "import":
        data = open(path, "rb").read()
        gc.collect()
        base = rss_mb()
        best = float("inf")
        idx = None
        for _ in range(repeats):
            idx = None
            gc.collect()
            t = time.perf_counter()
            idx = crlindex.CRLIndex.from_crl(data, store)
            best = min(best, time.perf_counter() - t)
        out.update(seconds=best, index_mb=rss_mb() - base, crl_mb=len(data) / 2**20)
        t = time.perf_counter()
        idx.save(path + ".idx")
        out["save_seconds"] = time.perf_counter() - t
    else:
        base = rss_mb()
        t = time.perf_counter()
        idx = crlindex.CRLIndex.load(path + ".idx")
        out.update(seconds=time.perf_counter() - t, index_mb=rss_mb() - base)
        probes = json.load(open(probes_file))
        misses = [random.getrandbits(159) for _ in range(1_000_000)]
        look = idx.lookup
        t = time.perf_counter()
        for s in misses:
            look(s)
        out["miss_rate"] = len(misses) / (time.perf_counter() - t)
        hits = [int(h) for h in probes]
        t = time.perf_counter()
        for s in hits:
            e = look(s)
            assert e is not None and e.reason == "affiliationChanged"
        out["hit_rate"] = len(hits) / (time.perf_counter() - t)
        out["rss_after_lookups_mb"] = rss_mb() - base
    out["peak_rss_mb"] = hwm_mb()
    print(json.dumps(out))


def run_child(*args) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def one_size(ca, n: int, workdir: str, repeats: int) -> None:
    t = time.perf_counter()
    serials = [random.getrandbits(159) | (1 << 152) for _ in range(n)]  # 20-byte serials, like real ones
    der = testing.big_crl_der(ca, serials, reason=3)  # affiliationChanged: a move or a new name
    path = os.path.join(workdir, f"crl-{n}.der")
    with open(path, "wb") as fh:
        fh.write(der)
    ca_pem = os.path.join(workdir, "ca.pem")
    with open(ca_pem, "wb") as fh:
        fh.write(ca.pem)
    probes = os.path.join(workdir, f"probes-{n}.json")
    with open(probes, "w") as fh:
        json.dump([str(s) for s in random.sample(serials, min(20_000, n))], fh)
    print(f"\n{n:,} revoked serials: CRL of {len(der) / 2**20:,.1f} MiB built in {time.perf_counter() - t:.1f} s")
    del der, serials
    gc.collect()

    base = float("nan")
    if shutil.which("openssl"):
        base = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-in", path], check=True)
            base = min(base, time.perf_counter() - t)
    imp = run_child("import", path, ca_pem, repeats, "-")
    load = run_child("load", path, ca_pem, 1, probes)
    print(f"baseline  openssl crl -inform DER -noout             : {base:7.2f} s")
    print(f"ours      import (parse, signature, freshness, index) : {imp['seconds']:7.2f} s   "
          f"ratio {imp['seconds'] / base:.2f}x (goal <= 2x)")
    print(f"          resident memory: index {imp['index_mb']:,.0f} MiB + the {imp['crl_mb']:,.0f} MiB CRL it keeps "
          f"= {imp['index_mb'] + imp['crl_mb']:,.0f} MiB (importing process peak {imp['peak_rss_mb']:,.0f} MiB)")
    print(f"          persisted in {imp['save_seconds']:.2f} s; restart from the index file {load['seconds']:.2f} s: "
          f"resident {load['index_mb']:,.0f} MiB incl. the mapped CRL (peak {load['peak_rss_mb']:,.0f} MiB)")
    print(f"ours      lookups (not revoked, the usual answer)    : {load['miss_rate']:12,.0f} /s "
          "(goal >= 1,000,000/s)")
    print(f"ours      lookups that hit (entry decoded)           : {load['hit_rate']:12,.0f} /s")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, path, ca_pem, repeats, probes = sys.argv[2:7]
        child(mode, path, ca_pem, int(repeats), probes)
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--serials", type=int, default=1_000_000)
    ap.add_argument("--ten-million", action="store_true", help="also build and measure a 10,000,000-serial index")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ca = testing.make_ca("sign")
    with tempfile.TemporaryDirectory(prefix="pki-crl-bench-") as workdir:
        one_size(ca, args.serials, workdir, args.repeats)
        if args.ten_million:
            one_size(ca, 10_000_000, workdir, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
