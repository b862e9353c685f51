"""Trust anchors per purpose: `auth` (利用者証明用) and `sign` (署名用).

Anchors are PEM/DER files in `<data dir>/pki/trust/{auth,sign}/`. The three J-LIS CA
generations (2015, 2019, 2023) share one distinguished name, so an issuer is found by its key
identifier and confirmed by the signature — a name alone never selects an anchor. JPKI issues
end-entity certificates directly under its roots, so a chain is always [certificate, anchor].
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .errors import MalformedInput, TrustStoreError

PURPOSES = ("auth", "sign")
MAX_CERT_BYTES = 64 * 1024

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get("MADOGUCHI_DATA_DIR") or "var")


def trust_dir(data: str | os.PathLike | None = None) -> Path:
    return data_dir(data) / "pki" / "trust"


def key_identifier(cert: x509.Certificate) -> bytes:
    """The subject key identifier: the extension when present, else RFC 5280 method 1."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def authority_key_identifier(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or more) or DER bytes; MalformedInput otherwise."""
    if len(data) > MAX_CERT_BYTES * 16:
        raise MalformedInput(f"certificate file too large ({len(data)} bytes)")
    try:
        if b"-----BEGIN" in data:
            blocks = _PEM_CERT.findall(data)
            if not blocks:
                raise MalformedInput("no PEM CERTIFICATE block")
            return [x509.load_pem_x509_certificate(b) for b in blocks]
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError (an X.509 "v4")
        raise MalformedInput(f"not a certificate: {exc}") from None


@dataclass(frozen=True)
class Anchor:
    cert: x509.Certificate
    purpose: str
    der: bytes = field(repr=False)
    sha256: str
    key_id: bytes
    path: Path | None = None

    @classmethod
    def of(cls, cert: x509.Certificate, purpose: str, path: Path | None = None) -> Anchor:
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(cert, purpose, der, hashlib.sha256(der).hexdigest(), key_identifier(cert), path)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    def valid_at(self, when: dt.datetime) -> bool:
        return self.cert.not_valid_before_utc <= when <= self.cert.not_valid_after_utc

    def describe(self) -> dict:
        c = self.cert
        return {"purpose": self.purpose, "subject": self.subject, "serial": f"{c.serial_number:X}",
                "key_id": self.key_id.hex(), "sha256": self.sha256,
                "not_before": c.not_valid_before_utc.isoformat(), "not_after": c.not_valid_after_utc.isoformat()}


def check_anchor(cert: x509.Certificate) -> None:
    """An anchor must be a CA certificate allowed to sign certificates, and self-signed."""
    try:
        _check_anchor(cert)
    except ValueError as exc:  # a malformed extension, lazily parsed
        raise MalformedInput(f"CA certificate does not parse: {exc}") from None


def _check_anchor(cert: x509.Certificate) -> None:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise TrustStoreError("not a CA certificate (no basicConstraints)") from None
    if not bc.ca:
        raise TrustStoreError("not a CA certificate (basicConstraints CA:FALSE)")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_cert_sign:
            raise TrustStoreError("CA key usage lacks keyCertSign")
    except x509.ExtensionNotFound:
        pass
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 — InvalidSignature, ValueError, TypeError
        raise TrustStoreError("not a self-signed root (its signature does not verify under its own key)") from None


class TrustStore:
    """In-memory anchors per purpose; `load(directory)` reads `auth/` and `sign/` subdirectories."""

    def __init__(self, anchors: Iterable[Anchor] = ()):
        self._anchors: dict[str, list[Anchor]] = {p: [] for p in PURPOSES}
        self.generation = 0  # bumped on every change; validators drop their caches on a bump
        for a in anchors:
            self._add(a)

    def _add(self, anchor: Anchor) -> None:
        if anchor.purpose not in PURPOSES:
            raise TrustStoreError(f"purpose must be auth or sign, not {anchor.purpose!r}")
        existing = self._anchors[anchor.purpose]
        if any(a.sha256 == anchor.sha256 for a in existing):
            return
        existing.append(anchor)
        self.generation += 1

    def add(self, cert: x509.Certificate, purpose: str) -> Anchor:
        check_anchor(cert)
        anchor = Anchor.of(cert, purpose)
        self._add(anchor)
        return anchor

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrustStore:
        store = cls()
        root = Path(directory)
        for purpose in PURPOSES:
            sub = root / purpose
            if not sub.is_dir():
                continue
            for path in sorted(sub.iterdir()):
                if path.suffix.lower() not in (".pem", ".der", ".crt", ".cer"):
                    continue
                for cert in load_certificates(path.read_bytes()):
                    store._add(Anchor.of(cert, purpose, path))
        return store

    def anchors(self, purpose: str | None = None) -> list[Anchor]:
        if purpose is None:
            return [a for p in PURPOSES for a in self._anchors[p]]
        return list(self._anchors[purpose])

    def by_key_id(self, key_id: bytes) -> list[Anchor]:
        return [a for a in self.anchors() if a.key_id == key_id]

    def candidates(self, cert: x509.Certificate, purpose: str | None = None) -> list[Anchor]:
        """Anchors that may have issued `cert`: same key identifier (when the certificate names
        one), else same name. The caller still checks the signature."""
        try:
            aki = authority_key_identifier(cert)
            issuer = cert.issuer
        except ValueError:
            return []
        pool = self.anchors(purpose)
        if aki is not None:
            return [a for a in pool if a.key_id == aki]
        return [a for a in pool if a.cert.subject == issuer]

    def issuer_of(self, cert: x509.Certificate, purpose: str | None = None) -> Anchor | None:
        """The anchor whose key verifies `cert`'s signature (and whose name is its issuer)."""
        for anchor in self.candidates(cert, purpose):
            if anchor.cert.subject != cert.issuer:  # candidates() found the issuer parseable
                continue
            try:
                cert.verify_directly_issued_by(anchor.cert)
            except Exception:  # noqa: BLE001 — InvalidSignature, ValueError (name), TypeError (key type)
                continue
            return anchor
        return None


def install(data: bytes, purpose: str, directory: str | os.PathLike) -> list[Anchor]:
    """Checks and copies anchors into `<directory>/<purpose>/<sha256>.pem` (idempotent)."""
    if purpose not in PURPOSES:
        raise TrustStoreError(f"purpose must be auth or sign, not {purpose!r}")
    installed = []
    target = Path(directory) / purpose
    for cert in load_certificates(data):
        check_anchor(cert)
        anchor = Anchor.of(cert, purpose)
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{anchor.sha256}.pem"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp, path)
        installed.append(Anchor.of(cert, purpose, path))
    return installed


def load_default(data: str | os.PathLike | None = None) -> TrustStore:
    """The installed anchors under `<data>/pki/trust/`; when none is installed, the development
    CA's two roots from `<data>/dev-ca/` (demo and tests). Installing any anchor switches the
    development CA off."""
    store = TrustStore.load(trust_dir(data))
    if not store.anchors():
        dev = data_dir(data) / "dev-ca"
        for purpose in PURPOSES:
            path = dev / f"{purpose}-ca.pem"
            if path.is_file():
                for cert in load_certificates(path.read_bytes()):
                    store.add(cert, purpose)
    return store
