"""OpenID Connect provider throughput: authorization-code-for-token exchanges per second with
private_key_jwt (ES256 client assertions, each with a fresh jti) and userinfo requests per
second, each beside the trivial endpoint /livez on the same server (ratio).

The server runs as `madoguchi serve` (gunicorn) on PostgreSQL (the application's role, as
`make test` sets it up; SQLite with --sqlite). A resident signs in once (`identify`, the demo
card's keys in-process) and consents; then authorization codes are made (untimed) and
exchanged (timed) within their 60-second life. Requests come from many loopback addresses
(127.0.x.y) so the per-address rate limits stay on without being the bottleneck.

    .venv/bin/python bench/oidc_token.py [--seconds 15] [--concurrency 8] [--workers 2] [--sqlite]
"""

import argparse
import base64
import hashlib
import http.client
import json
import re
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from authlib.oauth2.rfc7523 import private_key_jwt_sign  # noqa: E402
from joserfc.jwk import ECKey  # noqa: E402

from bench.support import CpuMeter, SoftCard, bench_database, cache_env, next_address, trivial_rate  # noqa: E402
from tests.server import madoguchi, start  # noqa: E402

CODE = "139998"
REDIRECT = "http://127.0.0.1:9/cb"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Browser:
    """A resident's browser over plain HTTP/1.1, from a chosen loopback address."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=None, headers=None, source=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source or "127.0.0.1", 0))
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return response.status, response.getheader("Location"), data

    def identify(self, card: SoftCard) -> None:
        source = next_address()
        _, _, page = self.request("GET", f"/{CODE}/login/", source=source)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        status, location, _ = self.request(
            "POST", f"/{CODE}/ceremony/start/", body=f"csrfmiddlewaretoken={token}&purpose=identify",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1:{self.port}/"},
            source=source)
        assert status == 302, status
        ceremony_id = location.rstrip("/").rsplit("/", 1)[1]
        status, _, data = self.request("GET", f"/{CODE}/api/ceremonies/{ceremony_id}", source=source)
        assert status == 200, data
        status, _, data = self.request("POST", f"/{CODE}/api/ceremonies/{ceremony_id}/complete",
                                       body=json.dumps(card.answer(json.loads(data))),
                                       headers={"Content-Type": "application/json"}, source=source)
        assert status == 200, data
        status, location, _ = self.request("GET", f"/{CODE}/ceremony/{ceremony_id}/finish/", source=source)
        assert status == 302, (status, location)


def run_threads(concurrency, work):
    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Bench:
    def __init__(self, port, client_id, key):
        self.port, self.client_id, self.key = port, client_id, key
        self.token_endpoint = f"http://127.0.0.1:{port}/{CODE}/oidc/token"
        self.browser = Browser(port)

    def authorize(self, first=False) -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT,
                           "scope": "openid name", "state": secrets.token_urlsafe(8),
                           "nonce": secrets.token_urlsafe(12), "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        path = f"/{CODE}/oidc/authorize?{query}"
        source = next_address()
        status, location, page = self.browser.request("GET", path, source=source)
        if first:  # the consent page, once
            assert status == 200, (status, page[:500])
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
            status, location, page = self.browser.request(
                "POST", path, body=urlencode({"csrfmiddlewaretoken": token, "decision": "allow"}),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Referer": f"http://127.0.0.1:{self.port}/"}, source=source)
        assert status == 302 and location.startswith(REDIRECT), (status, location, page[:300])
        return parse_qs(urlsplit(location).query)["code"][0], verifier

    def exchange(self, code: str, verifier: str) -> dict:
        assertion = private_key_jwt_sign(self.key, client_id=self.client_id, token_endpoint=self.token_endpoint,
                                         alg="ES256", expires_at=int(time.time()) + 60)
        body = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                          "code_verifier": verifier, "client_assertion_type": ASSERTION_TYPE,
                          "client_assertion": assertion})
        status, _, data = Browser(self.port).request(
            "POST", f"/{CODE}/oidc/token", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"}, source=next_address())
        assert status == 200, (status, data[:300])
        return json.loads(data)

    def codes(self, count: int, concurrency: int) -> list:
        out, lock = [], threading.Lock()

        def work(i):
            for _ in range(count // concurrency + (1 if i < count % concurrency else 0)):
                pair = self.authorize()
                with lock:
                    out.append(pair)

        run_threads(concurrency, work)
        return out

    def exchange_all(self, pairs: list, concurrency: int) -> tuple[float, list]:
        errors, lock = [], threading.Lock()
        chunks = [pairs[i::concurrency] for i in range(concurrency)]
        tokens = []

        def work(i):
            for code, verifier in chunks[i]:
                try:
                    token = self.exchange(code, verifier)
                    with lock:
                        tokens.append(token)
                except Exception as exc:  # noqa: BLE001 — reported
                    errors.append(repr(exc))

        started = time.monotonic()
        run_threads(concurrency, work)
        return len(tokens) / (time.monotonic() - started), errors, tokens

    def userinfo_rate(self, access_token: str, seconds: float, concurrency: int) -> tuple[float, list]:
        count, errors, lock = [0], [], threading.Lock()
        stop = time.monotonic() + seconds

        def work(i):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            n = 0
            while time.monotonic() < stop:
                conn.request("GET", f"/{CODE}/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"})
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    errors.append((response.status, data[:200]))
                    break
                n += 1
            with lock:
                count[0] += n

        started = time.monotonic()
        run_threads(concurrency, work)
        return count[0] / (time.monotonic() - started), errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="target length of the timed exchange phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--redis", metavar="URL", default="",
                        help="a Redis database for the shared cache (sessions, rate counters), flushed first; "
                             "e.g. redis://127.0.0.1:6379/6")
    args = parser.parse_args()

    database_url, drop = bench_database(args.sqlite, "bench_oidc")
    with tempfile.TemporaryDirectory() as data_dir:
        server = start(data_dir, database_url, workers=args.workers, **cache_env(args.redis))
        try:
            port = int(server.base_url.rsplit(":", 1)[1])
            key = ECKey.generate_key("P-256", auto_kid=True)
            jwks = Path(data_dir) / "rp.jwks"
            jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
            out = madoguchi(server.env, "oidc", "client", "add", "--municipality", CODE, "--name", "bench RP",
                            "--redirect-uri", REDIRECT, "--scope", "openid name", "--legal-basis",
                            "municipal_service", "--auth-method", "private_key_jwt", "--jwks", str(jwks))
            client_id = re.search(r"client_id: (\S+)", out).group(1)
            bench = Bench(port, client_id, key)
            bench.browser.identify(SoftCard(Path(data_dir) / "cards" / "taro"))
            bench.exchange(*bench.authorize(first=True))  # consent once; warm up
            # Calibrate, then make as many codes as the exchange phase can use within their life.
            rate, errors, _ = bench.exchange_all(bench.codes(100, args.concurrency), args.concurrency)
            count = max(200, int(rate * args.seconds))
            made = time.monotonic()
            pairs = bench.codes(count, args.concurrency)
            making = time.monotonic() - made
            meter = CpuMeter(server.process.pid, database_url)
            before = meter.snapshot()
            rate, errors, tokens = bench.exchange_all(pairs, args.concurrency)
            cpu = CpuMeter.spent(before, meter.snapshot())
            info_rate, info_errors = bench.userinfo_rate(tokens[-1]["access_token"], min(args.seconds, 10),
                                                         args.concurrency)
            baseline = trivial_rate(port, min(args.seconds, 10), args.concurrency)
        finally:
            server.stop()
            drop()
    if errors or info_errors:
        print(f"errors: {len(errors)} exchanges, {len(info_errors)} userinfo; first: {(errors or info_errors)[0]}")
        return 1
    print(f"code → token exchanges (private_key_jwt ES256, PKCE, ID token): {rate:7.1f} /s  "
          f"({len(pairs)} codes; making them took {making:.1f} s)")
    print(f"userinfo requests:                                           {info_rate:7.1f} /s")
    print(f"trivial endpoint /livez, same server:                        {baseline:7.1f} /s  "
          f"(ratios: token {rate / baseline:.3f}, userinfo {info_rate / baseline:.3f})")
    n = len(pairs)
    print(f"CPU per exchange: server {cpu['server'] / n * 1000:.1f} ms, PostgreSQL backends "
          f"{cpu['database'] / n * 1000:.1f} ms, load generator {cpu['client'] / n * 1000:.1f} ms")
    print(f"database: {'SQLite' if args.sqlite else 'PostgreSQL'}{' + Redis cache' if args.redis else ''}; gunicorn {args.workers} workers x 4 threads; "
          f"{args.concurrency} concurrent clients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
