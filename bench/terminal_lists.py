"""The server side of the terminal's lists at scale: a CRL of N revoked serials (default
1,000,000; --serials 10000000 for the national scale), imported and indexed as `madoguchi pki
crl import` does, then — in a fresh process that loads the persisted index as the server does
(mmap) — the revocation list a terminal syncs built from it (SortedKeys.union of the index's
serial keys, as madoguchi.citizencard.services does once per CRL generation), its bytes and
base64, and the lookups a terminal then makes. Peak memory of that process, beside the memory
of the loaded index alone.

    .venv/bin/python bench/terminal_lists.py [--serials 1000000]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from madoguchi.pki import crlindex, testing, trust  # noqa: E402
from madoguchi.terminal.index import SortedKeys  # noqa: E402


def hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(index_path: str) -> None:
    t = time.perf_counter()
    idx = crlindex.CRLIndex.load(index_path)
    loaded, load_peak = time.perf_counter() - t, hwm_mb()
    t = time.perf_counter()
    keys = SortedKeys.union([idx.serial_keys()])
    built = time.perf_counter() - t
    t = time.perf_counter()
    raw = keys.to_bytes()
    encoded = base64.b64encode(raw).decode()
    encode = time.perf_counter() - t
    probes = [random.getrandbits(64) for _ in range(200_000)]
    t = time.perf_counter()
    for p in probes:
        p in keys  # noqa: B015
    lookups = len(probes) / (time.perf_counter() - t)
    print(json.dumps({"load_s": loaded, "load_peak_mb": load_peak, "build_s": built, "encode_s": encode,
                      "entries": len(keys), "bytes": len(raw), "b64": len(encoded), "lookups": lookups,
                      "peak_mb": hwm_mb()}))


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--serials", type=int, default=1_000_000)
    n = ap.parse_args().serials
    ca = testing.make_ca("auth")
    store = trust.TrustStore()
    store.add(ca.cert, "auth")
    with tempfile.TemporaryDirectory() as workdir:
        t = time.perf_counter()
        der = testing.big_crl_der(ca, (random.getrandbits(159) | (1 << 152) for _ in range(n)), reason=3)
        idx = crlindex.CRLIndex.from_crl(der, store)
        path = idx.save(os.path.join(workdir, "crl.idx"))
        print(f"{n:,} revoked serials: CRL of {len(der) / 2**20:,.1f} MiB built and indexed in "
              f"{time.perf_counter() - t:.1f} s")
        del der, idx
        gc.collect()
        done = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                              check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"index loaded (mmap) in {r['load_s']:.2f} s, process peak {r['load_peak_mb']:,.0f} MiB")
    print(f"revocation list built (union, sorted, no repeats): {r['build_s']:.2f} s, {r['entries']:,} entries")
    print(f"bytes {r['bytes'] / 2**20:,.1f} MiB, base64 for the JSON answer {r['b64'] / 2**20:,.1f} MiB "
          f"in {r['encode_s']:.2f} s")
    print(f"terminal lookups in it: {r['lookups']:,.0f}/s")
    print(f"peak RSS of the server-side process: {r['peak_mb']:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
