"""Signature operations and certificate reads per second on the virtual card — in this
process and through PC/SC (pcscd + vpcd + pyscard) — beside the bare RSA-2048 PKCS#1 v1.5
sign rate of `cryptography` measured in the same run.

A signature operation = SELECT the key EF + the JPKI SIGN command (the PIN verified once
before); a certificate read = SELECT the JPKI AP + SELECT EF 000A + header + chunked reads.

Standalone: `.venv/bin/python bench/card_sign.py`. Uses a throwaway dev CA and card in a
temporary directory; starts pcscd if it is not running (and stops it again). Exits 0 even
when PC/SC is unavailable (the line says so).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils  # noqa: E402

from madoguchi.card import virtual  # noqa: E402
from madoguchi.card.jpki import JpkiAP, digest_info_sha256  # noqa: E402
from madoguchi.card.transport import Channel, PcscTransport, VirtualTransport  # noqa: E402
from madoguchi.pki.devca import DevCA  # noqa: E402

SECONDS = 2.0
PIN = "1234"


def rate(operation, seconds: float = SECONDS) -> float:
    operation()  # warm up
    count, start = 0, time.perf_counter()
    while True:
        operation()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def measure(channel: Channel) -> tuple[float, float]:
    ap = JpkiAP(channel)
    ap.verify("auth", PIN)
    info = digest_info_sha256(hashlib.sha256(b"bench").digest())
    signs = rate(lambda: ap.sign_digest_info("auth", info))
    reads = rate(lambda: ap.certificate("auth"))
    return signs, reads


def with_pcsc(card_dir: Path, measure=measure):
    """`measure(channel)` on the virtual card at `card_dir` served through pcscd + vpcd (here:
    (sign/s, reads/s)), or a reason string. bench/card_face.py measures through it too."""
    try:
        import smartcard  # noqa: F401
    except ImportError:
        return "pyscard not installed"
    from madoguchi.card.vpcd import exclusive_use

    try:
        with exclusive_use(timeout=300):
            return _with_pcsc(card_dir, measure)
    except TimeoutError as exc:
        return str(exc)


def _with_pcsc(card_dir: Path, measure):
    from contextlib import nullcontext

    from madoguchi.card import vpcd

    try:
        started = nullcontext() if vpcd.virtual_readers() else vpcd.private_pcscd(timeout=10)
        with started:
            server = vpcd.VpcdServer(virtual.VirtualCard(card_dir), port=vpcd.configured_port())
            try:
                server.start_thread()
                transport = PcscTransport(vpcd.reader_name(server.port, vpcd.configured_port()), timeout=10)
                try:
                    return measure(Channel(transport))
                finally:
                    transport.close()
            finally:
                server.stop()
    except vpcd.PcscdError as exc:
        return f"cannot start pcscd: {exc}"
    except Exception as exc:  # noqa: BLE001 — a benchmark reports, it does not crash
        return f"PC/SC failed: {exc}"


def main() -> int:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    digest = hashlib.sha256(b"bench").digest()
    bare = rate(lambda: key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())))

    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        ca = DevCA.open(tmp)
        holder = virtual.Holder("窓口\u3000太郎", "東京都千代田区霞が関１－１", __import__("datetime").date(1990, 1, 2), "1")
        card_dir = virtual.issue(Path(tmp) / "card", ca, holder, PIN, "ABC123", "5678")
        in_signs, in_reads = measure(Channel(VirtualTransport(virtual.VirtualCard(card_dir))))
        pcsc = with_pcsc(card_dir)

    print(f"bare RSA-2048 sign (cryptography)      {bare:9.1f} ops/s")
    print(f"virtual card, in-process: sign         {in_signs:9.1f} ops/s  ({in_signs / bare:.2f}× bare)")
    print(f"virtual card, in-process: cert read    {in_reads:9.1f} reads/s")
    if isinstance(pcsc, str):
        print(f"virtual card, PC/SC: unavailable — {pcsc}")
    else:
        pc_signs, pc_reads = pcsc
        print(f"virtual card, PC/SC (vpcd): sign       {pc_signs:9.1f} ops/s  ({pc_signs / bare:.2f}× bare)")
        print(f"virtual card, PC/SC (vpcd): cert read  {pc_reads:9.1f} reads/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
