"""Verifying and importing the signed 転出 package (issue 23, benchmark): packages verified
per second (envelope parsed, signature checked, chain walked to the root, payload read), then
packages verified *and imported* per second (moving.services.receive: the destination looked
up, its trust roots, verification, the signer checked to be the origin, the 転入予定 row and
its audit event written, one transaction each, distinct packages), then the same from one
exchange file (`receive_many`: one transaction for the file), each beside the bare
signature verification of the same bytes with the same key, in the same run, with their ratio
(target: import within 3x).

    .venv/bin/python bench/moving_verify.py [--seconds 3] [--postgres]
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


def imports(seconds: float, postgres: bool) -> tuple[float, float, float]:
    """(packages verified and imported per second one file each, the same from one exchange
    file, bare verifications per second)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from _django import setup

    origin, _person, drop = setup(postgres, "moving")
    try:
        from madoguchi.documents import services as documents
        from madoguchi.moving import services
        from madoguchi.municipalities.models import Municipality

        destination = Municipality.objects.create(code="279994", name="見本町", name_kana="みほんちょう")
        identity = documents.ensure_demo(origin)
        documents.ensure_demo(destination)
        payload = {**PAYLOAD, "origin_name": "窓口市"}
        # Distinct packages (a replay is refused), signed before the clock starts.
        count = max(200, int(seconds * 400))
        packages = [package.sign(identity, {**payload, "application": f"2026-{i:07d}"}) for i in range(count)]
        services.receive(packages.pop())  # warm: roots loaded, chain remembered
        n, start = 0, time.perf_counter()
        while packages and time.perf_counter() - start < seconds:
            services.receive(packages.pop())
            n += 1
        imported = n / (time.perf_counter() - start)
        # One exchange file (`moving import` of a batch): verified one by one, received in one
        # transaction with its audit events; as many packages as the one-by-one run did in 3 s.
        size = max(1000, int(imported * 3))
        envelopes = [json.loads(package.sign(identity, {**payload, "application": f"B-{i:07d}"}))
                     for i in range(size)]
        start = time.perf_counter()
        result = services.receive_many(envelopes)
        batched = size / (time.perf_counter() - start)
        assert len(result.moves) == size and not result.refused, result.refused[:3]
        envelope = json.loads(package.sign(identity, payload))
        body, signature = base64.b64decode(envelope["payload"]), base64.b64decode(envelope["signature"])
        public = identity.certificate.public_key()
        baseline = rate(lambda: public.verify(signature, body, padding.PKCS1v15(), hashes.SHA256()), seconds)
        return imported, batched, baseline
    finally:
        from django.db import connections

        connections.close_all()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--postgres", action="store_true", help="import into PostgreSQL (default SQLite)")
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
          f"ratio {baseline / full:.2f}x")
    imported, batched, bare = imports(args.seconds, args.postgres)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"packages verified and imported one file each ({database}): {imported:,.0f}/s; "
          f"bare signature verification: {bare:,.0f}/s; ratio {bare / imported:.2f}x")
    print(f"packages verified and imported from one exchange file ({database}): {batched:,.0f}/s; "
          f"bare signature verification: {bare:,.0f}/s; ratio {bare / batched:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
