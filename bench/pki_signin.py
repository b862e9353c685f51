"""Sign-in verification rate: authentication-certificate validation (trust, validity, purpose,
CRL revocation) + the challenge signature, against a bare `cryptography` RSA-2048 PKCS#1 v1.5
SHA-256 verify, on one core, in the same run. Goal: at least 0.5x the bare rate.

    .venv/bin/python bench/pki_signin.py [--seconds 3] [--revoked 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from madoguchi.pki import challenge, crlindex, testing, trust, validation  # noqa: E402


def rate(fn, items, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for item in items:
            fn(item)
        n += len(items)
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--revoked", type=int, default=100_000, help="entries in the CRL consulted")
    ap.add_argument("--cards", type=int, default=50)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    ca = testing.make_ca("auth")
    store = trust.TrustStore()
    store.add(ca.cert, "auth")
    revocation = crlindex.RevocationStore()
    serials = [random.getrandbits(150) for _ in range(args.revoked)]
    revocation.import_crl(testing.big_crl_der(ca, serials, reason=1), store)
    v = validation.Validator(store, revocation)

    cards = []
    for _ in range(args.cards):
        key = testing.key()
        cert = testing.issue(ca, key.public_key())
        msg = b"madoguchi-login-v1" + os.urandom(64)
        sig = key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
        cards.append((cert.public_bytes(serialization.Encoding.DER), key.public_key(), msg, sig))

    def bare(item):
        _, pub, msg, sig = item
        pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())

    def ours(item):
        der, _, msg, sig = item
        r = challenge.verify_challenge(v, der, sig, message=msg)
        assert r.ok, r.certificate.log

    def cold(item):
        der, _, msg, sig = item
        v._cache.clear()
        assert challenge.verify_challenge(v, der, sig, message=msg).ok

    # Interleaved rounds, best of each: other processes on the machine hit both alike.
    rounds = 6
    base = hot = first = 0.0
    for _ in range(rounds):
        base = max(base, rate(bare, cards, args.seconds / rounds))
        hot = max(hot, rate(ours, cards, args.seconds / rounds))
        first = max(first, rate(cold, cards, args.seconds / rounds))
    print(f"one core; CRL of {args.revoked:,} revoked serials; {args.cards} distinct cards")
    print(f"baseline  bare cryptography RSA-2048 PKCS#1 v1.5 SHA-256 verify : {base:10,.0f} /s")
    print(f"ours      sign-in (cert validated from cache + CRL + challenge)  : {hot:10,.0f} /s  "
          f"ratio {hot / base:.2f}x  (goal >= 0.50x)")
    print(f"ours      first sign-in of a card (no cache: issuer signature too): {first:10,.0f} /s  "
          f"ratio {first / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
