"""Booking under contention (issue 23): 100 residents in 25 threads race for a slot of 5
places on PostgreSQL — exactly 5 must be booked — beside the same 100 residents booking a
slot of 100 places (no one turned away) in the same run: the time of each and their ratio.

    .venv/bin/python bench/bookings_race.py [--residents 100] [--threads 25]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import bench_database  # noqa: E402
from tests.server import madoguchi, server_env  # noqa: E402


def race(env, residents: int, capacity: int, threads: int) -> dict:
    result = subprocess.run([sys.executable, "-m", "tests.bookings.race", str(residents), str(capacity), str(threads)],
                            env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--threads", type=int, default=25)
    args = parser.parse_args()
    url, drop = bench_database(False, "bookings")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = server_env(Path(tmp), url, MADOGUCHI_ENV="test")
            madoguchi(env, "migrate")
            contended = race(env, args.residents, 5, args.threads)
            free = race(env, args.residents, args.residents, args.threads)
    finally:
        drop()
    ok = contended["booked"] == contended["slot_count"] == contended["bookings"] == 5 and not contended["other"]
    print(f"{args.residents} residents, {args.threads} threads, one slot of 5 places: booked {contended['booked']}, "
          f"told full {contended['full']}, other errors {len(contended['other'])} in {contended['seconds']:.2f} s "
          f"({'exactly the capacity' if ok else 'WRONG'})")
    print(f"baseline, a slot of {args.residents} places: booked {free['booked']} in {free['seconds']:.2f} s "
          f"(ratio {contended['seconds'] / free['seconds']:.2f})")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
