"""Card face reads (券面事項確認AP) with signature verification per second on the virtual
card through PC/SC (pcscd + vpcd + pyscard), beside bare READ BINARY of the same bytes in
the same run (and the same in this process).

- bare: SELECT AP + SELECT EF 0002 + header + chunked READ BINARY of the record, then
  SELECT EF 0004 + the same for the CV certificate — the bytes a verified read fetches;
  照合番号B verified once before.
- verified: the same reads + parsing + the CV certificate checked under the demo issuer key
  + the record's signature checked under the certified key (`face.verify_card_face`).
- full: `FaceAP.read(code)` — also VERIFY 照合番号B every time (the virtual card hashes the
  code with PBKDF2, as it stores every PIN).

Standalone: `.venv/bin/python bench/card_face.py`. Uses a throwaway dev CA and card in a
temporary directory; starts pcscd if it is not running (and stops it again). Exits 0 even
when PC/SC is unavailable (the line says so).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.card_sign import rate, with_pcsc  # noqa: E402
from madoguchi.card import constants as C  # noqa: E402
from madoguchi.card import face, virtual  # noqa: E402
from madoguchi.card.transport import Channel, VirtualTransport  # noqa: E402
from madoguchi.pki.devca import DevCA  # noqa: E402

PIN = "1234"


def measure(channel: Channel, issuers: dict, code: str) -> tuple[float, float, float, int]:
    """(bare reads/s, verified reads/s, full reads/s, bytes per read)."""
    ap = face.FaceAP(channel, issuers)
    ap.verify_code_b(code)

    def bare():
        channel.select_aid(C.AID_SURFACE)
        return channel.read_tlv_file(C.EF_FACE_RECORD), channel.read_tlv_file(C.EF_FACE_CV_CERT)

    def verified():
        record, cert = bare()
        return face.verify_card_face(record, cert, issuers, code)

    size = sum(map(len, bare()))
    return rate(bare), rate(verified), rate(lambda: ap.read(code)), size


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        ca = DevCA.open(tmp)
        holder = virtual.Holder("窓口\u3000太郎", "東京都千代田区霞が関１－１", dt.date(1990, 1, 2), "1")
        card_dir = virtual.issue(Path(tmp) / "card", ca, holder, PIN, "ABC123", "5678")
        text = json.loads((card_dir / "card.json").read_text())["text"]
        code = face.code_b(holder.birth, int(text["card_expiry"][:4]), text["security_code"])
        issuers = virtual.face_issuer_keys(ca.directory)
        local = measure(Channel(VirtualTransport(virtual.VirtualCard(card_dir))), issuers, code)
        pcsc = with_pcsc(card_dir, lambda channel: measure(channel, issuers, code))

    def report(where: str, figures) -> None:
        bare, verified, full, size = figures
        print(f"{where}: bare READ BINARY ({size} B)   {bare:9.1f} reads/s")
        print(f"{where}: read + verify            {verified:9.1f} reads/s  ({bare / verified:.2f}× slower than bare)")
        print(f"{where}: VERIFY + read + verify   {full:9.1f} reads/s  ({bare / full:.2f}× slower than bare)")

    report("in-process", local)
    if isinstance(pcsc, str):
        print(f"PC/SC (vpcd): unavailable — {pcsc}")
    else:
        report("PC/SC (vpcd)", pcsc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
