"""The development LGPKI-shaped CA (地方公共団体組織認証基盤) for the municipality's own
document-signing key.

The real LGPKI has a root (ルート認証局), intermediate CAs (アプリケーション認証局 2)
and organisation certificates (組織認証: a certificate naming the local government,
used to sign its electronic documents). This module builds the same three levels:

    LGPKI-DEV Root CA  →  LGPKI-DEV Application CA 2  →  <municipality> (organisation)

under an organisation (O=LGPKI-DEV) and a marking OU that can never be mistaken for the
real one. Keys and certificates live in `<data dir>/lgpki-dev/` (MADOGUCHI_DATA_DIR,
default `var/`), created on first use; organisation keys under
`<data dir>/lgpki-dev/organisations/<code>/`. An operator installs the municipality's real
key and certificate instead (`madoguchi documents install-key`, docs/documents.md).

No Django here: the web application and the `madoguchi pki` command both use it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .devca import _write_private, data_dir, directory_lock, generate_key

DEV_ORGANISATION = "LGPKI-DEV"
DEV_MARK = "madoguchi development LGPKI - not J-LIS"
ROOT_CN = "LGPKI-DEV Root CA"
INTERMEDIATE_CN = "LGPKI-DEV Application CA 2"
ROOT_YEARS = 20
INTERMEDIATE_YEARS = 10
ORGANISATION_YEARS = 3
CODE = re.compile(r"^[0-9]{6}$")


class LGPKIError(Exception):
    pass


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _ca_name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANISATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEV_MARK),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def organisation_name(code: str, name: str) -> x509.Name:
    """The organisation certificate's subject: the municipality's name and 団体コード,
    marked as development in O and OU."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANISATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEV_MARK),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, code),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{name} (development)"),
    ])


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class SigningIdentity:
    """What signs a municipality's documents: key, certificate, the chain up to (not
    including) the root, and where it came from ('development' or 'installed')."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    source: str


class DevLGPKI:
    """Root and intermediate in `<dir>/root.pem`, `<dir>/intermediate.pem` with their keys."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.root: x509.Certificate | None = None
        self.intermediate: x509.Certificate | None = None
        self._intermediate_key = None

    @classmethod
    def open(cls, data: str | os.PathLike | None = None, create: bool = True) -> DevLGPKI:
        ca = cls(data_dir(data) / "lgpki-dev")
        if not (ca.directory / "intermediate.pem").exists():
            if not create:
                raise LGPKIError(f"no development LGPKI CA in {ca.directory}")
            ca._create()
        ca._load()
        return ca

    def _locked(self):
        return directory_lock(self.directory)

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        with self._locked():
            if (self.directory / "intermediate.pem").exists():
                return
            now = _utcnow()
            root_key, inter_key = generate_key(), generate_key()
            root_name, inter_name = _ca_name(ROOT_CN), _ca_name(INTERMEDIATE_CN)
            root = (
                x509.CertificateBuilder()
                .subject_name(root_name).issuer_name(root_name)
                .public_key(root_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=365 * ROOT_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .add_extension(_ca_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
                .sign(root_key, hashes.SHA256())
            )
            intermediate = (
                x509.CertificateBuilder()
                .subject_name(inter_name).issuer_name(root_name)
                .public_key(inter_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=365 * INTERMEDIATE_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                               critical=False)
                .sign(root_key, hashes.SHA256())
            )
            # The root key is only needed to sign the intermediate: it is kept (for a
            # re-issue) but never loaded again by the application.
            for stem, key in (("root", root_key), ("intermediate", inter_key)):
                _write_private(self.directory / f"{stem}.key.pem", key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            (self.directory / "root.pem").write_bytes(pem(root))
            (self.directory / "intermediate.pem").write_bytes(pem(intermediate))

    def _load(self) -> None:
        self.root = x509.load_pem_x509_certificate((self.directory / "root.pem").read_bytes())
        self.intermediate = x509.load_pem_x509_certificate((self.directory / "intermediate.pem").read_bytes())

    def _key(self):
        if self._intermediate_key is None:
            self._intermediate_key = serialization.load_pem_private_key(
                (self.directory / "intermediate.key.pem").read_bytes(), None)
        return self._intermediate_key

    @property
    def root_path(self) -> Path:
        return self.directory / "root.pem"

    def issue_organisation(self, code: str, name: str, public_key, years: int = ORGANISATION_YEARS) -> x509.Certificate:
        """An organisation (document-signing) certificate for a municipality."""
        if not CODE.match(code or ""):
            raise LGPKIError(f"{code!r} is not a 6-digit municipality code")
        if not name or len(name) > 60:
            raise LGPKIError("the municipality's name must be 1 to 60 characters")
        now = _utcnow()
        assert self.intermediate is not None
        return (
            x509.CertificateBuilder()
            .subject_name(organisation_name(code, name)).issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=365 * years), self.intermediate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
                decipher_only=False), critical=True)
            # emailProtection + documentSigning-like use: NSS (pdfsig) accepts a signer
            # certificate with emailProtection for document signatures.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate.public_key()),
                           critical=False)
            .sign(self._key(), hashes.SHA256())
        )

    def organisation(self, code: str, name: str) -> SigningIdentity:
        """The municipality's development signing identity, made on first use and kept
        in `organisations/<code>/`."""
        if not CODE.match(code or ""):
            raise LGPKIError(f"{code!r} is not a 6-digit municipality code")
        folder = self.directory / "organisations" / code
        with self._locked():
            if not (folder / "cert.pem").exists():
                folder.mkdir(parents=True, exist_ok=True)
                key = generate_key()
                cert = self.issue_organisation(code, name, key.public_key())
                _write_private(folder / "key.pem", key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
                (folder / "cert.pem").write_bytes(pem(cert))
        assert self.intermediate is not None
        return SigningIdentity(
            key=serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None),
            certificate=x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes()),
            chain=[self.intermediate], source="development")


def installed_dir(data: str | os.PathLike | None, code: str) -> Path:
    return data_dir(data) / "document-signing" / code


def install(data: str | os.PathLike | None, code: str, key_pem: bytes, cert_pem: bytes,
            chain_pem: bytes = b"", password: bytes | None = None) -> SigningIdentity:
    """Installs a municipality's real key and certificate (and the chain of intermediates)
    after checking that they belong together; it replaces the development identity."""
    if not CODE.match(code or ""):
        raise LGPKIError(f"{code!r} is not a 6-digit municipality code")
    try:
        key = serialization.load_pem_private_key(key_pem, password)
    except (ValueError, TypeError) as exc:
        raise LGPKIError(f"the key is not a readable PEM private key ({exc.__class__.__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise LGPKIError("the key must be RSA or ECDSA")
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
        chain = x509.load_pem_x509_certificates(chain_pem) if chain_pem.strip() else []
    except ValueError:
        raise LGPKIError("the certificate or chain is not PEM") from None
    if not certs:
        raise LGPKIError("no certificate in the certificate file")
    cert, chain = certs[0], certs[1:] + chain
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        raise LGPKIError("the certificate does not belong to the key")
    if cert.not_valid_after_utc <= _utcnow():
        raise LGPKIError("the certificate has expired")
    folder = installed_dir(data, code)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    # Stored unencrypted and readable only by the service account (0600), as the
    # development key is; an HSM is the production answer (docs/documents.md).
    _write_private(folder / "key.pem", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(pem(cert))
    (folder / "chain.pem").write_bytes(b"".join(pem(c) for c in chain))
    return load_installed(data, code)


def load_installed(data: str | os.PathLike | None, code: str) -> SigningIdentity | None:
    folder = installed_dir(data, code)
    if not (folder / "cert.pem").exists():
        return None
    chain_path = folder / "chain.pem"
    chain = x509.load_pem_x509_certificates(chain_path.read_bytes()) if chain_path.exists() and \
        chain_path.read_bytes().strip() else []
    return SigningIdentity(key=serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None),
                           certificate=x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes()),
                           chain=chain, source="installed")

