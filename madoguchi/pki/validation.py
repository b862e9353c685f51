"""Validation of a JPKI end-entity certificate for a purpose at a time, with a typed verdict.

Checks, in order: structure (and accepted signature algorithm), unknown critical extensions,
basicConstraints (an end entity, not a CA), issuer signature by a trust anchor *of the
purpose* (found by key identifier; an anchor of the other purpose gives WRONG_PURPOSE),
key usage for the purpose, validity period (certificate and anchor), revocation (CRL index,
else OCSP, else the policy for missing data).

Everything except time and revocation depends only on the certificate and the trust store,
so it is cached by the certificate's SHA-256: the hot path of a repeat sign-in is one hash,
two comparisons and one dict probe — the only signature check left is the caller's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .crlindex import ALLOWED_SIGNATURES, CRLInfo, RevocationPolicy, RevocationStore, RevokedEntry
from .errors import PKIError
from .trust import PURPOSES, Anchor, TrustStore, authority_key_identifier

UTC = dt.timezone.utc
MAX_CERT_BYTES = 16 * 1024
CACHE_SIZE = 100_000

KNOWN_EXTENSIONS = {
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    ExtensionOID.ISSUER_ALTERNATIVE_NAME,
}


class Verdict(str, Enum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    UNTRUSTED = "untrusted"
    WRONG_PURPOSE = "wrong_purpose"
    MALFORMED = "malformed"
    # Not in the issue's list, needed by "fail closed": no usable revocation data.
    REVOCATION_UNKNOWN = "revocation_unknown"
    # CMS / challenge level: the certificate may be fine but the signature over the data is not.
    BAD_SIGNATURE = "bad_signature"


MESSAGES = {
    Verdict.VALID: ("電子証明書は有効です。", "The certificate is valid."),
    Verdict.EXPIRED: ("電子証明書の有効期限が切れています。お住まいの市区町村の窓口で更新してください。",
                      "The certificate has expired. Please renew it at your municipal office."),
    Verdict.NOT_YET_VALID: ("電子証明書はまだ有効になっていません。しばらくしてからお試しください。",
                            "The certificate is not valid yet. Please try again later."),
    Verdict.REVOKED: ("この電子証明書は失効しています。氏名や住所が変わると署名用電子証明書は自動的に失効します。"
                      "市区町村の窓口で新しい電子証明書の発行を受けてください。",
                      "This certificate has been revoked. A signature certificate is revoked automatically when "
                      "your name or address changes; your municipal office can issue a new one."),
    Verdict.UNTRUSTED: ("この電子証明書は信頼できる発行元（地方公共団体情報システム機構）のものと確認できません。",
                        "This certificate could not be traced to a trusted authority (J-LIS)."),
    Verdict.WRONG_PURPOSE: ("この手続きには使えない種類の電子証明書です。利用者証明用と署名用を取り違えていないか"
                            "ご確認ください。",
                            "This kind of certificate cannot be used here. Please check that the authentication and "
                            "signature certificates were not swapped."),
    Verdict.MALFORMED: ("電子証明書を読み取れませんでした。もう一度カードを読み取ってください。",
                        "The certificate could not be read. Please read the card again."),
    Verdict.REVOCATION_UNKNOWN: ("現在、電子証明書の失効状況を確認できません。しばらくしてからお試しください。",
                                 "The certificate's revocation status cannot be checked right now. "
                                 "Please try again later."),
    Verdict.BAD_SIGNATURE: ("署名を確認できませんでした。内容が改ざんされたか、別のカードで署名された可能性があります。",
                            "The signature does not match. The content may have been altered, or it was signed with "
                            "another card."),
}


class Judged:
    """`ok` and the person-facing messages of a verdict: certificate results and CMS
    verification records (verify.VerificationRecord) both carry a `verdict`."""

    __slots__ = ()

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def message_ja(self) -> str:
        return MESSAGES[self.verdict][0]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.verdict][1]


@dataclass(slots=True)
class RevocationCheck:
    """What revocation data was consulted (for the verification record)."""

    source: str  # "crl" | "ocsp" | "none"
    crl: CRLInfo | None = None
    ocsp: dict | None = None
    entry: RevokedEntry | None = None
    note: str = ""

    def as_dict(self) -> dict:
        out: dict = {"source": self.source}
        if self.crl is not None:
            out.update(crl_number=self.crl.number, crl_this_update=self.crl.this_update,
                       crl_next_update=self.crl.next_update, crl_issuer_key_id=self.crl.issuer_key_id,
                       crl_sha256=self.crl.sha256)
        if self.ocsp is not None:
            out["ocsp"] = self.ocsp
        if self.entry is not None:
            out.update(revoked_at=self.entry.revoked_at.isoformat(), reason=self.entry.reason)
        if self.note:
            out["note"] = self.note
        return out


@dataclass(slots=True)  # not frozen: built on every sign-in, and frozen __init__ is slow
class Result(Judged):
    verdict: Verdict
    purpose: str
    checked_at: dt.datetime
    log: str
    sha256: str | None = None
    serial: int | None = None
    issuer_key_id: str | None = None
    anchor: Anchor | None = None
    certificate: x509.Certificate | None = field(default=None, repr=False)
    revocation: RevocationCheck | None = None

    @property
    def key(self) -> tuple[str, int] | None:
        """(issuer key identifier, serial): with the SHA-256, how a certificate is named."""
        return (self.issuer_key_id, self.serial) if self.serial is not None else None

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict.value, "purpose": self.purpose, "checked_at": self.checked_at.isoformat(),
            "log": self.log, "sha256": self.sha256,
            "serial": f"{self.serial:X}" if self.serial is not None else None,
            "issuer_key_id": self.issuer_key_id,
            "anchor_sha256": self.anchor.sha256 if self.anchor else None,
            "revocation": self.revocation.as_dict() if self.revocation else None,
        }


@dataclass(frozen=True)
class _Static:
    """The time- and revocation-independent outcome for one certificate and purpose."""

    cert: x509.Certificate | None
    sha256: str
    failure: tuple[Verdict, str] | None
    anchor: Anchor | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    serial: int | None = None
    public_key: object = None
    common: dict = field(default_factory=dict)  # Result fields shared by every call
    anchor_from: dt.datetime | None = None
    anchor_to: dt.datetime | None = None


def _other(purpose: str) -> str:
    return "sign" if purpose == "auth" else "auth"


def purpose_error(cert: x509.Certificate, purpose: str) -> str | None:
    """Why `cert`'s key usage does not fit `purpose`, or None."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "no keyUsage extension"
    if purpose == "auth" and not ku.digital_signature:
        return "keyUsage lacks digitalSignature (needed for authentication)"
    if purpose == "sign" and not ku.content_commitment:
        return "keyUsage lacks nonRepudiation (needed for signatures)"
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if purpose == "auth" and ExtendedKeyUsageOID.CLIENT_AUTH not in eku and \
                ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return "extendedKeyUsage excludes clientAuth"
    except x509.ExtensionNotFound:
        pass
    return None


class Validator:
    """Validates end-entity certificates against a trust store and revocation data."""

    def __init__(self, trust: TrustStore, revocation: RevocationStore | None = None,
                 policy: RevocationPolicy | None = None, ocsp=None):
        self.trust = trust
        self.revocation = revocation if revocation is not None else RevocationStore()
        self.policy = policy or RevocationPolicy()
        self.ocsp = ocsp  # an ocsp.OCSPClient, consulted when no usable CRL is held
        self._cache: dict[tuple[str, str], _Static] = {}
        self._trust_generation = trust.generation

    # -- the time-independent part, cached ---------------------------------------------

    def _static(self, der: bytes, purpose: str) -> _Static:
        if self._trust_generation != self.trust.generation:  # anchors changed: nothing cached holds
            self._cache.clear()
            self._trust_generation = self.trust.generation
        digest = hashlib.sha256(der).hexdigest()
        hit = self._cache.get((digest, purpose))
        if hit is not None:
            return hit
        static = self._compute(der, digest, purpose)
        common = dict(purpose=purpose, sha256=static.sha256, certificate=static.cert)
        if static.cert is not None:
            common.update(serial=static.cert.serial_number)
        if static.anchor is not None:
            common.update(issuer_key_id=static.anchor.key_id.hex(), anchor=static.anchor)
        static.common.update(common)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[(digest, purpose)] = static
        return static

    def _compute(self, der: bytes, digest: str, purpose: str) -> _Static:
        if len(der) > MAX_CERT_BYTES:
            return _Static(None, digest, (Verdict.MALFORMED, f"certificate of {len(der)} bytes is oversized"))
        try:
            cert = x509.load_der_x509_certificate(der)
            sig_oid = cert.signature_algorithm_oid
            extensions = cert.extensions
            cert.public_key()
            serial = cert.serial_number
            not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
            cert.issuer, cert.subject  # parsed lazily: surface their errors here  # noqa: B018
            cert.tbs_certificate_bytes  # noqa: B018
        except (ValueError, TypeError) as exc:  # cryptography.x509 errors are ValueError subclasses
            return _Static(None, digest, (Verdict.MALFORMED, f"certificate does not parse: {exc}"))
        except Exception as exc:  # noqa: BLE001 — UnsupportedAlgorithm for odd key types
            return _Static(None, digest, (Verdict.MALFORMED, f"certificate unusable: {type(exc).__name__}: {exc}"))
        if cert.public_bytes(serialization.Encoding.DER) != der:
            return _Static(None, digest, (Verdict.MALFORMED, "certificate is not in DER (trailing bytes)"))
        if sig_oid not in ALLOWED_SIGNATURES:
            return _Static(cert, digest, (Verdict.MALFORMED, f"signature algorithm {sig_oid.dotted_string} "
                                                             "is not accepted"))
        for ext in extensions:
            if ext.critical and ext.oid not in KNOWN_EXTENSIONS:
                return _Static(cert, digest, (Verdict.MALFORMED, "unknown critical extension "
                                                                 f"{ext.oid.dotted_string}"))
        try:
            bc = extensions.get_extension_for_class(x509.BasicConstraints).value
            if bc.ca:
                return _Static(cert, digest, (Verdict.WRONG_PURPOSE, "a CA certificate is not an end entity"))
        except x509.ExtensionNotFound:
            pass
        anchor = self.trust.issuer_of(cert, purpose)
        if anchor is None:
            other = self.trust.issuer_of(cert, _other(purpose))
            if other is not None:
                return _Static(cert, digest, (Verdict.WRONG_PURPOSE, f"issued by the {other.purpose} CA "
                                                                     f"{other.key_id.hex()}, not a {purpose} CA"))
            aki = authority_key_identifier(cert)
            return _Static(cert, digest, (Verdict.UNTRUSTED, "no trust anchor verifies the issuer signature "
                                                             f"(issuer {cert.issuer.rfc4514_string()}, key id "
                                                             f"{aki.hex() if aki else 'absent'})"))
        why = purpose_error(cert, purpose)
        if why:
            return _Static(cert, digest, (Verdict.WRONG_PURPOSE, why), anchor=anchor)
        return _Static(cert, digest, None, anchor, not_before, not_after, serial, cert.public_key(),
                       anchor_from=anchor.cert.not_valid_before_utc, anchor_to=anchor.cert.not_valid_after_utc)

    # -- per call ------------------------------------------------------------------------

    def validate(self, cert: bytes | x509.Certificate, purpose: str, at: dt.datetime | None = None) -> Result:
        return self.validate_static(cert, purpose, at)[0]

    def validate_static(self, cert, purpose: str, at: dt.datetime | None = None) -> tuple[Result, _Static]:
        """validate() and the cached static record (holding the parsed public key)."""
        if purpose not in PURPOSES:
            raise PKIError(f"purpose must be auth or sign, not {purpose!r}")
        at = at or dt.datetime.now(UTC)
        if type(cert) is not bytes:
            cert = cert.public_bytes(serialization.Encoding.DER) if isinstance(cert, x509.Certificate) else bytes(cert)
        s = self._static(cert, purpose)
        return self._judge(s, at), s

    def _judge(self, s: _Static, at: dt.datetime) -> Result:
        common = dict(s.common, checked_at=at)
        if s.failure is not None:
            return Result(s.failure[0], log=s.failure[1], **common)
        if at < s.not_before:
            return Result(Verdict.NOT_YET_VALID, log=f"notBefore {s.not_before.isoformat()}", **common)
        if at > s.not_after:
            return Result(Verdict.EXPIRED, log=f"notAfter {s.not_after.isoformat()}", **common)
        if not s.anchor_from <= at <= s.anchor_to:
            return Result(Verdict.EXPIRED, log=f"issuing CA {s.anchor.key_id.hex()} not valid at {at.isoformat()}",
                          **common)
        check = self.revocation_status(s.anchor, s.serial, s.cert, at)
        if check.entry is not None:
            return Result(Verdict.REVOKED, log=f"revoked {check.entry.revoked_at.isoformat()} "
                                               f"reason {check.entry.reason}", revocation=check, **common)
        if check.source == "none" and self.policy.on_missing != "accept":
            return Result(Verdict.REVOCATION_UNKNOWN, log=check.note, revocation=check, **common)
        return Result(Verdict.VALID, log="ok", revocation=check, **common)

    def revocation_status(self, anchor: Anchor, serial: int, cert: x509.Certificate,
                          at: dt.datetime) -> RevocationCheck:
        index = self.revocation.get(anchor.key_id)
        if index is not None and self.policy.usable_index(index, at):
            entry = index.lookup(serial)
            if entry is not None:  # listed = revoked, whatever its date (a CA clock ahead must not pass it)
                return RevocationCheck("crl", crl=index.info, entry=entry)
            return RevocationCheck("crl", crl=index.info)
        note = "no CRL held for the issuer" if index is None else \
            f"CRL stale (nextUpdate {index.info.next_update}, grace {self.policy.grace})"
        if self.ocsp is not None:
            try:
                answer = self.ocsp.check(cert, anchor.cert, at)
            except PKIError as exc:
                note += f"; OCSP failed: {exc}"
            else:
                if answer.status == "revoked":
                    return RevocationCheck("ocsp", ocsp=answer.as_dict(), entry=RevokedEntry(
                        serial, answer.revoked_at, answer.reason))
                if answer.status == "good":
                    return RevocationCheck("ocsp", ocsp=answer.as_dict())
                note += "; OCSP says unknown"
        return RevocationCheck("none", note=note)


def default_validator(data=None, policy: RevocationPolicy | None = None, ocsp=None) -> Validator:
    """A validator over `<data>` (MADOGUCHI_DATA_DIR, default var/): the installed trust anchors
    (or the development CA) and the persisted CRL indexes. Call `.revocation.refresh()` now and
    then to pick up `madoguchi pki crl import` run by an operator."""
    from .crlindex import crl_dir
    from .trust import load_default
    return Validator(load_default(data), RevocationStore.open(crl_dir(data)), policy=policy, ocsp=ocsp)
