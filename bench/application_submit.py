"""Signed-application submissions per second over HTTP (the applications JSON API), with p50
and p99 latency at a steady 100 submissions/s, beside /livez on the same server.

What is measured: POST /<code>/api/applications/drafts/{id}/submit for 住民票の写し等の交付請求
(a procedure that needs a signature, with a fee): bearer-token authentication, the rate-limit
counters, taking the completed `sign` ceremony's CMS, the data checked again against the
procedure's JSON Schema and the canonical document rebuilt (RFC 8785), the CMS verified
against it (chain to the development JPKI CA, revocation from the CRL index), the ceremony
binding checked, and one transaction (受付番号, the application, its status history,
notices and audit events), then the detail answered. Not measured (done before, untimed):
each draft's creation, its `prepare` and `sign` requests, and the card client's work
(fetching the ceremony, making the CMS with the demo card's key in-process, completing it)
— a resident's phone does those one at a time, seconds apart.

Besides rates and latencies, a run reports the CPU each submission of the closed loop cost
in the server's processes, in the PostgreSQL backends serving its database, and in this
load generator (user + system time from /proc), with the load average: on a shared machine
those figures, not the rate alone, tell what a dedicated one would do.

The server runs as `madoguchi serve` (gunicorn) on PostgreSQL (the application's role, as
`make test` sets it up; SQLite with --sqlite). Requests come from many loopback addresses
so the per-address limits stay on; the per-resident limit (MADOGUCHI_APPLICATION_API_RATE,
30/min by default) is raised for this server, because one demo resident makes them all.

    .venv/bin/python bench/application_submit.py [--count 1500] [--steady-seconds 10]
        [--concurrency 8] [--workers 2] [--sqlite]
"""

import argparse
import base64
import datetime as dt
import hashlib
import http.client
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed  # noqa: E402

from bench.oidc_token import Browser  # noqa: E402
from bench.support import (  # noqa: E402
    CpuMeter, SoftCard, b64, bench_database, cache_env, next_address, trivial_rate, unb64,
)
from madoguchi.pki import cms  # noqa: E402
from madoguchi.pki.verify import ceremony_attribute  # noqa: E402
from tests.server import madoguchi, start  # noqa: E402

CODE = "139998"
API = f"/{CODE}/api/applications"
REDIRECT = "http://127.0.0.1:9/cb"
JUMINHYO = {"applicant_name": "窓口　太郎", "applicant_birth_date": "1980-04-01",
            "applicant_address": "東京都窓口市本町一丁目1番1号", "phone": "03-0000-0000", "scope": "household",
            "copies": 2, "purpose": "employment", "delivery": "registered"}


class Resident:
    """The demo resident 窓口 太郎 through the API with a bearer token of a phone app (a relying
    party with the scope `applications`), and his card client (the demo card's keys)."""

    def __init__(self, port: int, env: dict, data_dir: str, scope: str = "openid applications"):
        self.port, self.env = port, env
        self.card = SoftCard(Path(data_dir) / "cards" / "taro")
        self.browser = Browser(port)
        self.browser.identify(self.card)
        out = madoguchi(env, "oidc", "client", "add", "--municipality", CODE, "--name", "窓口市アプリ",
                        "--redirect-uri", REDIRECT, "--scope", scope, "--legal-basis", "municipal_service",
                        "--auth-method", "client_secret_basic")
        self.client_id = re.search(r"client_id: (\S+)", out).group(1)
        self.secret = re.search(r"client_secret \(shown once\): (\S+)", out).group(1)
        self.scope = scope
        self._token, self._token_at, self._lock = None, 0.0, threading.Lock()
        self._consented = False

    # ---- OpenID Connect: code + PKCE, then the token ----------------------------------
    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() - self._token_at > 200:  # tokens live 300 s
                self._token, self._token_at = self._fetch_token(), time.monotonic()
            return self._token

    def _fetch_token(self) -> str:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        path = f"/{CODE}/oidc/authorize?" + urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT, "scope": self.scope,
            "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(12), "code_challenge": challenge,
            "code_challenge_method": "S256"})
        source = next_address()
        status, location, page = self.browser.request("GET", path, source=source)
        if status == 200 and b'name="decision"' in page:  # consent, once
            csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
            status, location, page = self.browser.request(
                "POST", path, body=urlencode({"csrfmiddlewaretoken": csrf, "decision": "allow"}),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Referer": f"http://127.0.0.1:{self.port}/"}, source=source)
        assert status == 302 and location.startswith(REDIRECT), (status, location, page[:300])
        code = parse_qs(urlsplit(location).query)["code"][0]
        basic = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        status, _, data = self.browser.request(
            "POST", f"/{CODE}/oidc/token", body=urlencode({"grant_type": "authorization_code", "code": code,
                                                           "redirect_uri": REDIRECT, "code_verifier": verifier}),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"},
            source=next_address())
        assert status == 200, data[:300]
        return json.loads(data)["access_token"]

    # ---- the API ----------------------------------------------------------------------
    def call(self, method, path, body=None, headers=None, conn=None):
        """(status, parsed JSON or raw bytes); a fresh loopback address unless a connection is given."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(next_address(), 0))
        headers = {"Authorization": f"Bearer {self.token()}", **(headers or {})}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if own:
            conn.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data

    def card_signs(self, opened: dict, document: bytes) -> None:
        """The card client: fetch the ceremony, make the CMS with the card's signature key, complete."""
        status, description = self.call("GET", f"/{CODE}/api/ceremonies/{opened['id']}")
        assert status == 200, description
        key, cert = self.card.keys["sign"], self.card.certs["sign"]

        def signer(digest_info: bytes) -> bytes:
            return key.sign(digest_info[-32:], padding.PKCS1v15(), Prehashed(hashes.SHA256()))

        signature = cms.sign_detached(document, cert, signer, extra_attributes=[ceremony_attribute(
            opened["id"], unb64(description["challenge"]), description["audience"], "sign")],
            signing_time=dt.datetime.now(dt.timezone.utc))
        status, body = self.call("POST", f"/{CODE}/api/ceremonies/{opened['id']}/complete",
                                 {"audience": description["audience"], "cms": b64(signature)})
        assert status == 200, body

    def signed_draft(self, data: dict | None = None) -> dict:
        """A draft of 住民票の写し, prepared and signed (untimed): what submit needs."""
        status, draft = self.call("POST", f"{API}/drafts", {"procedure": "juminhyo-copy", "data": data or JUMINHYO})
        assert status == 201, draft
        status, prepared = self.call("POST", f"{API}/drafts/{draft['id']}/prepare")
        assert status == 200, prepared
        status, opened = self.call("POST", f"{API}/drafts/{draft['id']}/sign")
        assert status == 201, opened
        self.card_signs(opened, unb64(prepared["document"]))
        return {"draft": draft["id"], "ceremony_id": opened["id"], "poll_token": opened["poll_token"]}

    def submit(self, signed: dict, conn=None) -> tuple[int, dict]:
        return self.call("POST", f"{API}/drafts/{signed['draft']}/submit",
                         {"ceremony_id": signed["ceremony_id"], "poll_token": signed["poll_token"]},
                         headers={"Idempotency-Key": secrets.token_urlsafe(24)}, conn=conn)


def run_threads(concurrency, work):
    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def presign(resident: Resident, count: int, concurrency: int) -> list[dict]:
    out, errors, lock = [], [], threading.Lock()

    def work(i):
        for _ in range(count // concurrency + (1 if i < count % concurrency else 0)):
            try:
                signed = resident.signed_draft()
            except Exception as exc:  # noqa: BLE001 — reported
                errors.append(repr(exc))
                continue
            with lock:
                out.append(signed)

    run_threads(concurrency, work)
    if errors:
        raise RuntimeError(f"{len(errors)} drafts could not be signed; first: {errors[0]}")
    return out


def throughput(resident: Resident, signed: list[dict], concurrency: int) -> tuple[float, list, list]:
    """Closed loop: `concurrency` clients submit back to back; (per second, latencies, errors)."""
    chunks = [signed[i::concurrency] for i in range(concurrency)]
    latencies, errors, lock = [], [], threading.Lock()

    def work(i):
        conn = http.client.HTTPConnection("127.0.0.1", resident.port, timeout=60, source_address=(next_address(), 0))
        for item in chunks[i]:
            started = time.perf_counter()
            status, body = resident.submit(item, conn=conn)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                if status != 201:
                    errors.append((status, str(body)[:200]))

    started = time.perf_counter()
    run_threads(concurrency, work)
    return len(signed) / (time.perf_counter() - started), latencies, errors


def steady(resident: Resident, signed: list[dict], rate: float, workers: int = 32) -> tuple[list, list, float]:
    """Open loop: submission i is due at start + i/rate, whatever the answers before it; its
    latency counts from when it was due (so a slow server cannot hide queueing)."""
    latencies, errors, lock = [], [], threading.Lock()
    start_at = time.perf_counter() + 0.5
    next_index = [0]

    def work(_):
        conn = http.client.HTTPConnection("127.0.0.1", resident.port, timeout=60, source_address=(next_address(), 0))
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= len(signed):
                return
            due = start_at + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            status, body = resident.submit(signed[i], conn=conn)
            took = time.perf_counter() - due
            with lock:
                latencies.append(took)
                if status != 201:
                    errors.append((status, str(body)[:200]))

    run_threads(workers, work)
    achieved = len(signed) / (time.perf_counter() - start_at)
    return latencies, errors, achieved


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500, help="submissions in the throughput phase")
    parser.add_argument("--steady-seconds", type=float, default=10, help="length of the 100/s phase")
    parser.add_argument("--steady-rate", type=float, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--redis", metavar="URL", default="",
                        help="a Redis database for the shared cache (sessions, rate counters), flushed first; "
                             "e.g. redis://127.0.0.1:6379/6")
    args = parser.parse_args()

    database_url, drop = bench_database(args.sqlite, "bench_applications")
    steady_count = int(args.steady_rate * args.steady_seconds)
    with tempfile.TemporaryDirectory() as data_dir:
        server = start(data_dir, database_url, workers=args.workers, MADOGUCHI_APPLICATION_API_RATE="1000000",
                       **cache_env(args.redis))
        try:
            port = int(server.base_url.rsplit(":", 1)[1])
            resident = Resident(port, server.env, data_dir)
            made = time.monotonic()
            warm = presign(resident, 50, args.concurrency)
            signed = presign(resident, args.count + steady_count, args.concurrency)
            making = time.monotonic() - made
            throughput(resident, warm, args.concurrency)  # warm up every worker and thread
            meter = CpuMeter(server.process.pid, database_url)
            before = meter.snapshot()
            rate, latencies, errors = throughput(resident, signed[:args.count], args.concurrency)
            cpu = CpuMeter.spent(before, meter.snapshot())
            time.sleep(1)
            s_latencies, s_errors, achieved = steady(resident, signed[args.count:], args.steady_rate)
            baseline = trivial_rate(port, 10, args.concurrency)
        finally:
            server.stop()
            drop()
    if errors or s_errors:
        print(f"errors: {len(errors)} + {len(s_errors)}; first: {(errors or s_errors)[0]}")
        return 1
    print(f"signed submissions, closed loop ({args.concurrency} clients): {rate:7.1f} /s  "
          f"(p50 {pct(latencies, 50):.0f} ms, p99 {pct(latencies, 99):.0f} ms; {len(latencies)} submissions)")
    print(f"steady {args.steady_rate:.0f}/s for {args.steady_seconds:.0f} s (open loop, from the due time): "
          f"p50 {pct(s_latencies, 50):.0f} ms, p99 {pct(s_latencies, 99):.0f} ms, "
          f"max {max(s_latencies) * 1000:.0f} ms; achieved {achieved:.1f}/s")
    print(f"trivial endpoint /livez, same server: {baseline:7.1f} /s  (ratio {rate / baseline:.3f})")
    n = len(latencies)
    print(f"CPU per submission in the closed loop: server {cpu['server'] / n * 1000:.1f} ms, "
          f"PostgreSQL backends {cpu['database'] / n * 1000:.1f} ms, load generator {cpu['client'] / n * 1000:.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f} (this run's processes and any others)")
    print(f"untimed preparation: {len(signed) + len(warm)} drafts made, prepared, signed in {making:.0f} s; "
          f"database: {'SQLite' if args.sqlite else 'PostgreSQL'}{' + Redis cache' if args.redis else ''}; gunicorn {args.workers} workers; "
          f"mean {statistics.mean(latencies) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
