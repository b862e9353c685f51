"""Requests per second of the resident top page, beside a trivial endpoint (/livez) on
the same running server in the same run. Prints both figures and their ratio.

    .venv/bin/python bench/top_page.py [--requests N] [--concurrency C]
"""

import argparse
import http.client
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server import start  # noqa: E402  (one way to start a real server, shared with the tests)


def load(port: int, path: str, requests: int, concurrency: int) -> float:
    """Keep-alive clients in threads; returns requests per second. Every answer must be 200."""
    per_thread = requests // concurrency
    failures = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(per_thread):
            conn.request("GET", path, headers={"Accept-Language": "ja"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"bench: {len(failures)} requests failed: {sorted(set(failures))}")
    return per_thread * concurrency / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start(data_dir)
        try:
            port = int(server.base_url.rsplit(":", 1)[1])
            load(port, "/139998/", 200, args.concurrency)  # warm up both workers
            baseline = load(port, "/livez", args.requests, args.concurrency)
            top = load(port, "/139998/", args.requests, args.concurrency)
        finally:
            server.stop()
    print(f"resident top page  /139998/ : {top:8.0f} req/s")
    print(f"trivial endpoint   /livez   : {baseline:8.0f} req/s  (baseline, same server, same run)")
    print(f"ratio top/baseline          : {top / baseline:8.2f}")
    print(f"(gunicorn 1 worker x 4 threads, {args.concurrency} keep-alive clients on the same {os.cpu_count()}-core machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
