"""Offline gate decisions/s with a 10M-serial revocation index and a 1M allow-list, beside the
bare lookup in the same arrays (the baseline), on one core. Each decision is a durable
SQLite transaction (event queued, ticket marked used).

    .venv/bin/python bench/terminal_gate.py [--revoked 10000000] [--allow 1000000] [--decisions 3000]
"""

import argparse
import array
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from madoguchi.terminal.index import SortedKeys  # noqa: E402
from madoguchi.terminal.state import LocalState  # noqa: E402


def disk_syncs_per_second(directory: str, n: int = 300) -> float:
    """This disk's bare write+fdatasync rate: what bounds a durable decision, whatever the code."""
    path = Path(directory) / "sync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        t = time.perf_counter()
        for i in range(n):
            os.pwrite(fd, b"e" * 128, i * 128)
            os.fdatasync(fd)
        return n / (time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--revoked", type=int, default=10_000_000)
    p.add_argument("--allow", type=int, default=1_000_000)
    p.add_argument("--decisions", type=int, default=3000)
    a = p.parse_args()
    rnd = random.Random(21)
    t = time.perf_counter()
    rev = array.array("Q", (rnd.getrandbits(64) for _ in range(a.revoked)))
    revoked = SortedKeys(array.array("Q", sorted(set(rev))))
    del rev
    allow_list = sorted({rnd.getrandbits(64) for _ in range(a.allow)})
    allow = SortedKeys(array.array("Q", allow_list))
    print(f"built {len(revoked):,} revoked, {len(allow):,} allowed in {time.perf_counter() - t:.1f} s")
    cards = [allow_list[rnd.randrange(len(allow_list))] for _ in range(a.decisions)]
    serials = [rnd.getrandbits(64) for _ in range(a.decisions)]
    t = time.perf_counter()
    for c, s in zip(cards, serials):
        _ = s in revoked and c in allow
    bare = a.decisions / (time.perf_counter() - t)
    figures = {}
    for sync in ("FULL", "NORMAL"):
      with tempfile.TemporaryDirectory() as d:
        if sync == "FULL":
            syncs = disk_syncs_per_second(d)
        state = LocalState(Path(d) / "t.sqlite3", synchronous=sync)
        state.revoked, state.allow, state.version = revoked, {"tickets": allow}, "bench"  # no blob copy
        t = time.perf_counter()
        for c, s in zip(cards, serials):
            state.decide("tickets", c, s)
        figures[sync] = a.decisions / (time.perf_counter() - t)
        state.close()
    gate = figures["FULL"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bare lookup (revocation + allow-list): {bare:,.0f}/s")
    print(f"gate decisions (lookup + durable event + used mark): {gate:,.0f}/s  ratio {gate / bare:.4f}")
    print(f"this disk's bare write+fdatasync: {syncs:,.0f}/s (a durable decision cannot beat it)")
    print(f"gate decisions with synchronous=NORMAL (crash-safe, not power-cut-safe): {figures['NORMAL']:,.0f}/s")
    print(f"peak RSS {rss:,.0f} MB  target: >= 1,000 decisions/s, < 2 GB: "
          f"{'MET' if gate >= 1000 and rss < 2048 else 'MISSED'}")


if __name__ == "__main__":
    main()
