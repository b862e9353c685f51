"""The development JPKI CA: an authentication CA and a signature CA shaped like J-LIS's,
under an organisation (O=JPKI-DEV) that can never be mistaken for the real one.

Keys and state live in `<data dir>/dev-ca/` (MADOGUCHI_DATA_DIR, default `var/`), created
on first use. Never use this CA for anything but development, tests and demonstrations.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import string
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import profile

DEV_ORGANISATION = "JPKI-DEV"
DEV_OPERATOR_OU = "madoguchi development CA - not J-LIS"
# CHOICE: CRL distribution points under the reserved .invalid TLD, so they can never resolve.
DEFAULT_CRL_BASE = "http://jpki-dev.invalid/crl"
KEY_SIZE = 2048
PUBLIC_EXPONENT = 65537
CA_YEARS = 10

PURPOSES = ("auth", "sign")
REASONS = {flag.value: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl}
# Friendly spellings on the command line.
REASON_ALIASES = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key-compromise": x509.ReasonFlags.key_compromise,
    "affiliation-changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation-of-operation": x509.ReasonFlags.cessation_of_operation,
    "certificate-hold": x509.ReasonFlags.certificate_hold,
    "privilege-withdrawn": x509.ReasonFlags.privilege_withdrawn,
}


class DevCAError(Exception):
    pass


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get("MADOGUCHI_DATA_DIR") or "var")


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_SIZE)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def ca_name(purpose: str) -> x509.Name:
    ou = profile.OU_AUTH if purpose == "auth" else profile.OU_SIGN
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANISATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEV_OPERATOR_OU),
    ])


@contextmanager
def directory_lock(directory: Path):
    """An exclusive lock on a CA's folder, so two processes never create or issue at once."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@dataclass
class IssuedCard:
    auth_key: rsa.RSAPrivateKey
    auth_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    sign_cert: x509.Certificate


class DevCA:
    """Both development CAs in one directory: `auth-ca.pem`, `sign-ca.pem`, their keys, state.json."""

    def __init__(self, directory: Path, crl_base: str = DEFAULT_CRL_BASE):
        self.directory = Path(directory)
        self.crl_base = crl_base.rstrip("/")
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._certs: dict[str, x509.Certificate] = {}

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, data: str | os.PathLike | None = None, create: bool = True) -> DevCA:
        """The dev CA under `<data dir>/dev-ca`, created on first use when `create`."""
        ca = cls(data_dir(data) / "dev-ca")
        if not (ca.directory / "state.json").exists():
            if not create:
                raise DevCAError(f"no development CA in {ca.directory}")
            ca._create()
        ca._load()
        return ca

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        with self._locked():
            if (self.directory / "state.json").exists():
                return
            now = _utcnow()
            for purpose in PURPOSES:
                key = generate_key()
                name = ca_name(purpose)
                ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(name).issuer_name(name)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(minutes=5))
                    .not_valid_after(now.replace(year=now.year + CA_YEARS))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(
                        digital_signature=False, content_commitment=False, key_encipherment=False,
                        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                        encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(ski, critical=False)
                    .sign(key, hashes.SHA256())
                )
                _write_private(self.directory / f"{purpose}-ca.key.pem", key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
                (self.directory / f"{purpose}-ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            self._save_state({"issued": {}, "revoked": {}, "crl_number": {"auth": 0, "sign": 0}})

    def _load(self) -> None:
        for purpose in PURPOSES:
            key = serialization.load_pem_private_key((self.directory / f"{purpose}-ca.key.pem").read_bytes(), None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self._keys[purpose] = key
            self._certs[purpose] = x509.load_pem_x509_certificate((self.directory / f"{purpose}-ca.pem").read_bytes())

    def _locked(self):
        return directory_lock(self.directory)

    def _state(self) -> dict:
        return json.loads((self.directory / "state.json").read_text())

    def _save_state(self, state: dict) -> None:
        tmp = self.directory / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, self.directory / "state.json")

    # -- certificates ------------------------------------------------------------------

    def certificate(self, purpose: str) -> x509.Certificate:
        return self._certs[purpose]

    def crl_url(self, purpose: str) -> str:
        return f"{self.crl_base}/{purpose}.crl"

    def issued_by_me(self, cert: x509.Certificate) -> str | None:
        """'auth' or 'sign' when `cert` verifies under one of the two dev CAs, else None."""
        for purpose in PURPOSES:
            try:
                cert.verify_directly_issued_by(self._certs[purpose])
                return purpose
            except (InvalidSignature, ValueError, TypeError):
                continue
        return None

    def _user_cert(self, purpose: str, subject: x509.Name, public_key, not_after: dt.datetime,
                   extra: list[tuple[x509.ExtensionType, bool]], issued: dt.datetime | None = None) -> x509.Certificate:
        now = issued or _utcnow()
        ca_cert = self._certs[purpose]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(not_after, ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(self.crl_url(purpose))],
                relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
        )
        for ext, critical in extra:
            builder = builder.add_extension(ext, critical=critical)
        cert = builder.sign(self._keys[purpose], hashes.SHA256())
        with self._locked():
            state = self._state()
            state["issued"][str(cert.serial_number)] = {
                "purpose": purpose, "not_after": cert.not_valid_after_utc.isoformat()}
            self._save_state(state)
        return cert

    def issue_auth(self, public_key, birth: dt.date, opaque_id: str | None = None,
                   now: dt.datetime | None = None, smartphone: bool = False) -> x509.Certificate:
        """利用者証明用電子証明書: subject C=JP, CN=<opaque id>; no personal data. With
        `smartphone`, the smartphone profile (スマホ用電子証明書: its own policy)."""
        cn = opaque_id or random_opaque_id()
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                             x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        issued = now or _utcnow()
        return self._user_cert("auth", subject, public_key, profile.validity_end(birth, issued), [
            (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                           data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                           encipher_only=False, decipher_only=False), True),
            # CHOICE (unconfirmed): clientAuth, as an authentication certificate.
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
            (x509.CertificatePolicies([x509.PolicyInformation(
                profile.OID_POLICY_AUTH_SMARTPHONE if smartphone else profile.OID_POLICY_AUTH, None)]), False),
        ], issued=now)

    def issue_sign(self, public_key, facts: profile.BasicFour, prefecture: str = "Dev-ken",
                   city: str = "Dev-shi", office_code: str = "DEV00", now: dt.datetime | None = None,
                   not_after: dt.datetime | None = None, smartphone: bool = False) -> x509.Certificate:
        """署名用電子証明書: the basic four facts as subjectAltName otherNames; nonRepudiation."""
        issued = now or _utcnow()
        # Subject per the real profile: C=JP, L=<prefecture>, L=<city>, CN=<timestamp+sequence+office>.
        cn = f"{issued:%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}{office_code}"
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, prefecture),
            x509.NameAttribute(NameOID.LOCALITY_NAME, city),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ])
        end = profile.validity_end(facts.birth, issued)
        if not_after is not None:
            end = min(end, not_after)  # capped by the authentication certificate
        return self._user_cert("sign", subject, public_key, end, [
            (x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                           data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                           encipher_only=False, decipher_only=False), True),
            (profile.san_for(facts), False),
            (x509.CertificatePolicies([x509.PolicyInformation(
                profile.OID_POLICY_SIGN_SMARTPHONE if smartphone else profile.OID_POLICY_SIGN, None)]), False),
        ], issued=now)

    def issue_card(self, facts: profile.BasicFour, now: dt.datetime | None = None, smartphone: bool = False,
                   **sign_options) -> IssuedCard:
        """A card's two certificates in one issuance, as J-LIS issues them: one issue time
        (the same notBefore) and the same end (the signature certificate is capped by the
        authentication certificate's). `madoguchi.pki.pairing` refuses pairs that are not."""
        issued = (now or _utcnow()).replace(microsecond=0)
        auth_key, sign_key = generate_key(), generate_key()
        auth = self.issue_auth(auth_key.public_key(), facts.birth, now=issued, smartphone=smartphone)
        sign = self.issue_sign(sign_key.public_key(), facts, now=issued, not_after=auth.not_valid_after_utc,
                               smartphone=smartphone, **sign_options)
        return IssuedCard(auth_key, auth, sign_key, sign)

    # -- revocation --------------------------------------------------------------------

    def revoke(self, serial: int, reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
               when: dt.datetime | None = None) -> str:
        """Revokes a serial this CA issued; returns the purpose ('auth'/'sign')."""
        with self._locked():
            state = self._state()
            entry = state["issued"].get(str(serial))
            if entry is None:
                raise DevCAError(f"serial {serial:X} was not issued by this development CA")
            state["revoked"][str(serial)] = {
                "purpose": entry["purpose"], "reason": reason.value,
                "date": (when or _utcnow()).isoformat()}
            self._save_state(state)
        return entry["purpose"]

    def revoked(self) -> dict[int, dict]:
        return {int(k): v for k, v in self._state()["revoked"].items()}

    def crl(self, purpose: str, next_update: dt.timedelta = dt.timedelta(days=1)) -> x509.CertificateRevocationList:
        """A freshly signed CRL of `purpose`'s CA, with the next CRL number."""
        with self._locked():
            state = self._state()
            state["crl_number"][purpose] += 1
            number = state["crl_number"][purpose]
            self._save_state(state)
        now = _utcnow()
        ca_cert = self._certs[purpose]
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now).next_update(now + next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
        )
        for serial, info in sorted(self.revoked().items()):
            if info["purpose"] != purpose:
                continue
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(dt.datetime.fromisoformat(info["date"]))
                .add_extension(x509.CRLReason(x509.ReasonFlags(info["reason"])), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(revoked)
        return builder.sign(self._keys[purpose], hashes.SHA256())

    def export(self, out: Path) -> list[Path]:
        """Writes auth-ca.pem, sign-ca.pem, auth.crl.pem, sign.crl.pem (and .der CRLs) to `out`."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for purpose in PURPOSES:
            path = out / f"{purpose}-ca.pem"
            path.write_bytes(self._certs[purpose].public_bytes(serialization.Encoding.PEM))
            written.append(path)
            crl = self.crl(purpose)
            for encoding, suffix in ((serialization.Encoding.PEM, "crl.pem"), (serialization.Encoding.DER, "crl")):
                path = out / f"{purpose}.{suffix}"
                path.write_bytes(crl.public_bytes(encoding))
                written.append(path)
        return written


def random_opaque_id() -> str:
    """An opaque 23-character subject id shaped like a real one (e.g. 997794E9AGCIEG13221003A)."""
    alphabet = string.digits + string.ascii_uppercase
    return "".join(secrets.choice(alphabet) for _ in range(23))


def parse_serial(text: str) -> int:
    """A certificate serial as decimal, 0x-prefixed hex, or colon-separated hex."""
    text = text.strip()
    try:
        if text.lower().startswith("0x"):
            return int(text[2:], 16)
        if ":" in text:
            return int(text.replace(":", ""), 16)
        return int(text, 10)
    except ValueError:
        raise DevCAError(f"{text!r} is not a serial number (decimal, 0x-hex, or aa:bb:… hex)") from None
