"""Verifying the signed 転出 package (issue 23, part 5): packages verified per second
(envelope parsed, signature checked, chain walked to the root, payload read) beside the bare
signature verification of the same bytes with the same key, in the same run, and their ratio
(target: within 3x). Import into the destination's database is not built yet (see
docs/moving.md, "Left"), so this measures the verification half.

    .venv/bin/python bench/moving_verify.py [--seconds 3]
"""

import argparse
import base64
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402

from madoguchi.moving import package  # noqa: E402
from madoguchi.pki import lgpki  # noqa: E402

PAYLOAD = {"kind": "tenshutsu", "origin": "139998", "destination": "279994", "move_out_on": "2026-12-20",
           "application": "139998-000001",
           "persons": [{"name": "窓口 太郎", "name_kana": "まどぐち たろう", "birth_date": "1980-04-01",
                        "address_before": "東京都窓口市本町一丁目1番1号"}]}


def rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ca = lgpki.DevLGPKI.open(tmp)
        identity = ca.organisation("139998", "窓口市")
        data = package.sign(identity, PAYLOAD)
        roots = [ca.root]
        envelope = json.loads(data)
        body, signature = base64.b64decode(envelope["payload"]), base64.b64decode(envelope["signature"])
        public = identity.certificate.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            def bare():
                public.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        else:
            def bare():
                public.verify(signature, body, ec.ECDSA(hashes.SHA256()))
        package.verify(data, roots)
        full = rate(lambda: package.verify(data, roots), args.seconds)
        baseline = rate(bare, args.seconds)
    print(f"packages verified: {full:,.0f}/s; bare signature verification: {baseline:,.0f}/s; "
          f"ratio {baseline / full:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
