"""The national-app card path's server side against the card client's, in the same run.

1. Sign-ins per second, the relying party's side only: madoguchi's callback (state, the
   code exchanged with private_key_jwt at the provider, the ES256 ID token verified against
   the cached JWKS; for `identify` also userinfo and the identity links), the ceremony
   completed and the session made (`finish`) — beside the card client's server side
   (its `complete`: certificate validation with the CRL, the challenge signature(s); the
   same `finish`). The provider is the stand-in in its own process; its approvals (the
   virtual card's work, the phone's) are done before the timed loop. Targets: within 2x the
   card path's server cost.
2. Sign results per second: JWE decrypt (ECDH-ES+A256KW / A256GCM) + signature over the
   digest + certificate validation (chain, validity, CRL) — beside a bare RSA-2048
   PKCS#1 v1.5 verify of the same signature. Target: at least 0.3x.

    .venv/bin/python bench/natapp.py [--postgres] [--count 60] [--seconds 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._django import setup  # noqa: E402

STANDIN = """
import json, sys, time
from madoguchi.standins.natapp import NatAppStandIn
cfg = json.loads(sys.argv[1])
s = NatAppStandIn(cfg["cards"], cfg["data"])
s.register_client(cfg["client_id"], cfg["redirect_uris"], jwks=cfg["jwks"])
print(s.issuer, flush=True)
s.server.serve_forever()
"""


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--count", type=int, default=60, help="sign-ins of each kind (approvals live 60 s: ≤ 80)")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    municipality, _person, drop = setup(args.postgres, "natapp")
    try:
        return run(municipality, args)
    finally:
        drop()


def run(municipality, args) -> int:
    import requests
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from django.conf import settings
    from django.test import Client
    from joserfc import jwe
    from joserfc.jwk import ECKey

    from madoguchi.card import virtual
    from madoguchi.ceremonies import pki as ceremony_pki
    from madoguchi.ceremonies.models import CardPathSetting
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.natapp import keys
    from madoguchi.natapp.models import Registration
    from madoguchi.pki import profile
    from madoguchi.pki.commands import load_trust
    from madoguchi.pki.crlindex import RevocationStore, crl_dir
    from madoguchi.pki.devca import DevCA
    from madoguchi.pki.verify import verify_digest_signature
    from madoguchi.residents.models import ResidentRecord
    from tests.ceremonies.softcard import SoftCard

    settings.ALLOWED_HOSTS = ["*"]
    data = Path(settings.DATA_DIR)
    ca = DevCA.open(data)
    trust = load_trust(str(data))
    store = RevocationStore(crl_dir(data))
    for purpose in ("auth", "sign"):
        store.import_crl(ca.crl(purpose).public_bytes(serialization.Encoding.DER), trust)
    ceremony_pki.reset()
    taro = profile.BasicFour(name="窓口　太郎", address="東京都窓口市本町一丁目1番1号",
                             birth=__import__("datetime").date(1980, 4, 1), sex="1")
    ResidentRecord.unscoped.create(municipality=municipality, resident_number="1001", name="窓口太郎",
                                   birth_date=taro.birth, sex="1", address=taro.address)
    virtual.issue(data / "cards" / "taro", ca, virtual.Holder(taro.name, taro.address, taro.birth, taro.sex),
                  pin="1234", password="MADO2026", text_pin="5678")
    soft = SoftCard(ca.issue_card(taro))
    code = municipality.code
    with tenant(municipality):
        keys.rotate()
        jwks = keys.public_jwks()
    provider = subprocess.Popen(
        [sys.executable, "-c", STANDIN, json.dumps({
            "cards": str(data / "cards"), "data": str(data), "client_id": "RP-BENCH", "jwks": jwks,
            "redirect_uris": [f"http://testserver/{code}/natapp/callback/"]})],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        issuer = provider.stdout.readline().strip()
        with tenant(municipality):
            Registration.objects.create(issuer=issuer, client_id="RP-BENCH")
            CardPathSetting.objects.create(enabled=["card-client", "national-app"])
        addresses = iter(f"127.1.{i // 250}.{i % 250 + 1}" for i in range(100_000))

        def browser() -> Client:
            return Client(REMOTE_ADDR=next(addresses))

        def opened(client, purpose) -> str:
            answer = client.post(f"/{code}/ceremony/start/", {"purpose": purpose})
            return answer["Location"].rstrip("/").rsplit("/", 1)[1]

        def approved(purpose):
            """A browser whose provider answer is waiting (the phone's part done)."""
            client = browser()
            ceremony = opened(client, purpose)
            url = client.post(f"/{code}/natapp/start/{ceremony}/")["Location"]
            page = requests.get(url, timeout=10).text
            request_id = re.search(r'name="request" value="([^"]+)"', page).group(1)
            back = requests.post(url.split("?")[0], data={"request": request_id, "card": "taro", "pin": "1234",
                                                          "text_pin": "5678", "decision": "approve"},
                                 allow_redirects=False, timeout=10).headers["Location"]
            return client, ceremony, local(back)

        def natapp_rate(purpose, n):
            batch = [approved(purpose) for _ in range(n)]
            start = time.perf_counter()
            for client, ceremony, back in batch:
                finish = client.get(back)
                assert finish["Location"].endswith("/finish/"), finish
                assert client.get(finish["Location"]).status_code == 302
            return n / (time.perf_counter() - start)

        def card_rate(purpose, n):
            batch = []
            for _ in range(n):
                client = browser()
                ceremony = opened(client, purpose)
                description = Client(REMOTE_ADDR=next(addresses)).get(f"/{code}/api/ceremonies/{ceremony}").json()
                batch.append((client, ceremony, json.dumps(soft.answer(description))))
            start = time.perf_counter()
            for client, ceremony, body in batch:
                done = Client(REMOTE_ADDR=next(addresses)).post(f"/{code}/api/ceremonies/{ceremony}/complete", body,
                                                               content_type="application/json")
                assert done.status_code == 200, done.content
                assert client.get(f"/{code}/ceremony/{ceremony}/finish/").status_code == 302
            return n / (time.perf_counter() - start)

        natapp_rate("identify", 2)  # warm: JWKS and discovery cached, the subject linked
        card_rate("identify", 2)
        n = min(args.count, 80)
        results = {}
        for purpose in ("login", "identify"):
            results[purpose] = (natapp_rate(purpose, n), card_rate(purpose, n))
        db = "PostgreSQL" if args.postgres else "SQLite"
        print(f"sign-ins, server side, in process ({db}; the provider stand-in in its own process)")
        for purpose, (ours, card) in results.items():
            print(f"  {purpose:<8} national app {ours:7.1f}/s   card client {card:7.1f}/s   "
                  f"cost ratio {card / ours:4.2f}x (target <= 2x)")

        # 2. the sign result: JWE decrypt + signature + certificate, beside bare RSA verify
        issued = ca.issue_card(taro)
        digest = hashlib.sha256(b"a document").digest()
        signature = issued.sign_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        cert = issued.sign_cert.public_bytes(serialization.Encoding.DER)
        enc = ECKey.generate_key("P-256", parameters={"kid": "e", "use": "enc"}, private=True)
        payload = json.dumps({"sign_transaction_id": "t", "digest": base64.b64encode(digest).decode(),
                              "signature": base64.b64encode(signature).decode(),
                              "certificate": base64.b64encode(cert).decode()}).encode()
        token = jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "e"}, payload,
                                    ECKey.import_key(enc.as_dict(private=False)))
        validator = ceremony_pki.validator()
        public = issued.sign_key.public_key()

        def result_once():
            body = json.loads(jwe.decrypt_compact(token, enc, algorithms=["ECDH-ES+A256KW", "A256GCM"]).plaintext)
            record = verify_digest_signature(base64.b64decode(body["signature"]), base64.b64decode(body["certificate"]),
                                             base64.b64decode(body["digest"]), validator)
            assert record.ok

        def bare_once():
            public.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))

        def rate(fn):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                for _ in range(50):
                    fn()
                count += 50
            return count / (time.perf_counter() - start)

        ours, bare = rate(result_once), rate(bare_once)
        print(f"sign result: JWE decrypt + signature + certificate (CRL) {ours:9.1f}/s   "
              f"bare RSA-2048 verify {bare:9.1f}/s   ratio {ours / bare:4.2f}x (target >= 0.3x)")
    finally:
        provider.terminate()
        provider.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
