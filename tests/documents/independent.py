"""Independent verification of signed PDFs: poppler's `pdfsig` against an NSS database
holding only the given trust anchor (certutil -N / -A -t "C,C,C")."""

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PdfsigReport:
    output: str

    @property
    def signature_valid(self) -> bool:
        return "Signature Validation: Signature is Valid." in self.output

    @property
    def trusted(self) -> bool:
        return "Certificate Validation: Certificate is Trusted." in self.output

    @property
    def whole_document(self) -> bool:
        return "Total document signed" in self.output


def nss_database(directory: Path, root_pem: Path) -> Path:
    """An NSS database trusting exactly `root_pem`."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", "trust-anchor", "-t", "C,C,C",
                    "-i", str(root_pem)], check=True, capture_output=True)
    return directory


def pdfsig(pdf: Path, nss: Path) -> PdfsigReport:
    result = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True, timeout=60)
    return PdfsigReport(result.stdout + result.stderr)


def flip_signed_byte(pdf: bytes) -> bytes:
    """One byte changed inside the signed range (in the page content's producer string,
    outside the signature's own /Contents)."""
    data = bytearray(pdf)
    at = data.find(b"/Producer")
    assert at > 0
    data[at + 12] ^= 0x01
    return bytes(data)
