"""Full card sign-in ceremonies per second over HTTP: open → fetch → complete → session.

The server runs as `madoguchi serve` (gunicorn) on PostgreSQL (the application's role,
as `make test` sets it up; SQLite with --sqlite). The load generator signs in-process with
the demo virtual cards' keys (no APDU emulation in the timed loop), from many loopback
addresses (127.0.x.y) so the per-address rate limits stay on and are not the bottleneck.
Prints the rate, the load generator's CPU share, and a trivial endpoint's rate on the same
server (ratio).

    .venv/bin/python bench/ceremony_signin.py [--seconds 20] [--concurrency 8] [--workers 2] [--sqlite]
"""

import argparse
import http.client
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import CpuMeter, SoftCard, bench_database, cache_env, next_address, trivial_rate  # noqa: E402
from tests.server import start  # noqa: E402

CODE = "139998"
class Browser:
    """One resident's browser plus the card client, over plain HTTP/1.1 keep-alive.

    The sign-in page is loaded once (a browser that signs in again already has it and its
    CSRF token); each sign-in then comes from a new loopback address on one connection.
    """

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = None
        self.connect(next_address())
        _, _, page = self.request("GET", f"/{CODE}/login/")
        self.csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()

    def connect(self, source: str) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connect(self.conn.source_address[0])
        return response.status, response.getheader("Location"), data

    def sign_in(self, card: SoftCard, purpose: str) -> None:
        self.connect(next_address())
        status, location, _ = self.request(
            "POST", f"/{CODE}/ceremony/start/", body=f"csrfmiddlewaretoken={self.csrf}&purpose={purpose}",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1:{self.port}/"})
        assert status == 302, status
        ceremony_id = location.rstrip("/").rsplit("/", 1)[1]
        status, _, data = self.request("GET", f"/{CODE}/api/ceremonies/{ceremony_id}")
        assert status == 200, data
        body = json.dumps(card.answer(json.loads(data)))
        status, _, data = self.request("POST", f"/{CODE}/api/ceremonies/{ceremony_id}/complete", body=body,
                                       headers={"Content-Type": "application/json"})
        assert status == 200, data
        status, location, _ = self.request("GET", f"/{CODE}/ceremony/{ceremony_id}/finish/")
        assert status == 302 and location in (f"/{CODE}/", f"/{CODE}/account/"), (status, location)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--redis", metavar="URL", default="",
                        help="a Redis database for the shared cache (sessions, rate counters), flushed first; "
                             "e.g. redis://127.0.0.1:6379/6")
    args = parser.parse_args()

    database_url, drop = bench_database(args.sqlite, "bench")
    with tempfile.TemporaryDirectory() as data_dir:
        server = start(data_dir, database_url, workers=args.workers, **cache_env(args.redis))
        try:
            port = int(server.base_url.rsplit(":", 1)[1])
            cards = [SoftCard(Path(data_dir) / "cards" / name) for name in ("taro", "hanako")]
            for card in cards:  # link each card once; the timed loop is `login`
                Browser(port).sign_in(card, "identify")
            done, errors = [0], []
            lock = threading.Lock()
            stop = time.monotonic() + args.seconds

            def resident(i):
                n = 0
                try:
                    browser = Browser(port)
                    while time.monotonic() < stop:
                        browser.sign_in(cards[i % 2], "login")
                        n += 1
                except Exception as exc:  # noqa: BLE001 — reported below
                    errors.append(repr(exc))
                with lock:
                    done[0] += n

            threads = [threading.Thread(target=resident, args=(i,)) for i in range(args.concurrency)]
            meter = CpuMeter(server.process.pid, database_url)
            before = meter.snapshot()
            cpu0, wall0 = time.process_time(), time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            spent = CpuMeter.spent(before, meter.snapshot())
            rate = done[0] / wall
            baseline = trivial_rate(port, min(args.seconds, 10), args.concurrency)
        finally:
            server.stop()
            drop()
    if errors:
        print(f"errors: {len(errors)}, first: {errors[0]}")
        return 1
    cores = os.cpu_count() or 1
    print(f"full card sign-ins (open, fetch, complete, session): {rate:7.1f} /s  ({done[0]} in {wall:.1f} s)")
    print(f"load generator CPU: {cpu / wall * 100:5.1f}% of one core = {cpu / wall / cores * 100:4.1f}% of the {cores}-core machine")
    print(f"trivial endpoint /livez, same server:              {baseline:7.1f} /s  (ratio {rate / baseline:.3f})")
    n = max(done[0], 1)
    print(f"CPU per sign-in (4 requests): server {spent['server'] / n * 1000:.1f} ms, PostgreSQL backends "
          f"{spent['database'] / n * 1000:.1f} ms")
    print(f"target 150 /s: {'met' if rate >= 150 else 'not met'}; database: {'SQLite' if args.sqlite else 'PostgreSQL'}{' + Redis cache' if args.redis else ''};"
          f" gunicorn {args.workers} workers x 4 threads; {args.concurrency} concurrent residents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
