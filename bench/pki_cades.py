"""CAdES-BES verifications per second: ours (madoguchi.pki.verify.verify_detached: CMS checks,
signer certificate validated for signatures with CRL revocation, verification record) against
`openssl cms -verify` on the same signatures, in the same run.

OpenSSL's command verifies one signature per process, so its rate includes process start-up;
for fairness we also time our own CLI (`python -m`-style, one process per signature).

    .venv/bin/python bench/pki_cades.py [--signatures 200] [--seconds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed  # noqa: E402

from madoguchi.pki import cms, crlindex, profile, testing, trust, validation, verify  # noqa: E402

import datetime as dt  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--signatures", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--openssl-runs", type=int, default=60)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    ca = testing.make_ca("sign")
    store = trust.TrustStore()
    store.add(ca.cert, "sign")
    revocation = crlindex.RevocationStore()
    revocation.import_crl(testing.big_crl_der(ca, range(1, 100_001), reason=3), store)
    v = validation.Validator(store, revocation)
    holder = profile.BasicFour("窓口\u3000花子", "東京都千代田区霞が関２丁目１番２号", dt.date(1990, 1, 2), "2")
    keys = [testing.key() for _ in range(10)]
    certs = [testing.issue(ca, k.public_key(), facts=holder) for k in keys]

    def signer(key):
        return lambda di: key.sign(di[-32:], padding.PKCS1v15(), Prehashed(hashes.SHA256()))

    docs = []
    for i in range(args.signatures):
        content = f"申請書 {i}\n".encode() * 50
        k = i % len(keys)
        sig = cms.sign_detached(content, certs[k].public_bytes(serialization.Encoding.DER), signer(keys[k]),
                                extra_attributes=[verify.ceremony_attribute(f"c{i}", hashlib.sha256(content).digest(),
                                                                            "bench")])
        docs.append((sig, content))

    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for sig, content in docs:
            assert verify.verify_detached(sig, content, v).ok
        n += len(docs)
    ours = n / (time.perf_counter() - start)

    print(f"{args.signatures} detached CAdES-BES signatures (RSA-2048, SHA-256), {len(keys)} signers, "
          "CRL of 100,000 serials; one core")
    print(f"ours      verify_detached (in process)              : {ours:9,.0f} /s")
    if not shutil.which("openssl"):
        print("baseline  openssl not installed")
        return 0
    with tempfile.TemporaryDirectory(prefix="pki-cades-bench-") as d:
        with open(os.path.join(d, "ca.pem"), "wb") as fh:
            fh.write(ca.pem)
        paths = []
        for i, (sig, content) in enumerate(docs[: args.openssl_runs]):
            s, c = os.path.join(d, f"{i}.p7s"), os.path.join(d, f"{i}.txt")
            with open(s, "wb") as fh:
                fh.write(sig)
            with open(c, "wb") as fh:
                fh.write(content)
            paths.append((s, c))
        start = time.perf_counter()
        for s, c in paths:
            subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", s, "-content", c,
                            "-CAfile", os.path.join(d, "ca.pem"), "-purpose", "any", "-out", os.devnull],
                           check=True, stderr=subprocess.DEVNULL)
        base = len(paths) / (time.perf_counter() - start)
        start = time.perf_counter()
        runs = min(10, len(paths))
        for s, c in paths[:runs]:
            r = subprocess.run([sys.executable, "-c", "import sys; from madoguchi.pki.commands import main; "
                                "sys.exit(main(sys.argv[1:]))", "--data-dir", d, "verify", "--signature", s,
                                "--content", c], capture_output=True, cwd=os.path.join(os.path.dirname(__file__), ".."))
            assert r.returncode == 1, r.stderr  # no CRL in that data dir: fails closed, after full work
        cli = runs / (time.perf_counter() - start)
    print(f"baseline  openssl cms -verify (one process each)    : {base:9,.0f} /s   ours/openssl {ours / base:.1f}x")
    print(f"ours      madoguchi pki verify (one process each)   : {cli:9,.1f} /s   (Python start-up and imports)")
    print("          (openssl here checks no revocation; ours consults the CRL and builds the record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
