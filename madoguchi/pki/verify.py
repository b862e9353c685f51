"""CAdES-BES / CMS SignedData verification (detached), returning a verification record.

Checks: one SignerInfo (none or several is bad input); digest algorithm SHA-256/384/512;
signed attributes present, contentType = the encapsulated type, messageDigest = the digest of
the content; ESS signingCertificateV2 (when present) names the signer certificate; signer
certificate found by issuer+serial or subject key identifier among the certificates carried;
the signature over the DER SET OF signed attributes (as received) verifies; the certificate
validates for purpose `sign` at the verification time. `signingTime` is reported, never
trusted. The ceremony binding (ARCHITECTURE.md, "The card ceremony") is a signed attribute
under the project OID below; the record carries it parsed for the caller to check.

Structures by asn1crypto, signatures by cryptography.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from dataclasses import dataclass, field

from asn1crypto import cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from . import facts as facts_mod
from .errors import MalformedInput, PKIError, UnsupportedAlgorithm
from .validation import Judged, Result, Validator, Verdict

UTC = dt.timezone.utc
MAX_CMS_BYTES = 1024 * 1024  # a detached signature with a handful of certificates is a few KB

# CHOICE: the project OID arc. madoguchi has no IANA enterprise number, so its arc is a UUID
# OID (ITU-T X.667, 2.25.<uuid as integer>), unique without registration.
PROJECT_ARC = "2.25.145271929438307346753777071334681355435"
OID_CEREMONY_BINDING = PROJECT_ARC + ".1.1"

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_RSA_SIGS = {"rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"}
_EC_SIGS = {"sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa", "ecdsa"}


class CeremonyBinding(core.Sequence):
    """CeremonyBinding ::= SEQUENCE { version INTEGER (1), ceremonyId UTF8String,
    challenge OCTET STRING, audience UTF8String, purpose UTF8String }"""

    _fields = [
        ("version", core.Integer),
        ("ceremony_id", core.UTF8String),
        ("challenge", core.OctetString),
        ("audience", core.UTF8String),
        ("purpose", core.UTF8String),
    ]


def ceremony_attribute(ceremony_id: str, challenge: bytes, audience: str, purpose: str = "sign") -> cms.CMSAttribute:
    """The signed attribute binding a CMS to a ceremony; pass it to cms.sign_detached(extra_attributes=…)."""
    value = CeremonyBinding({"version": 1, "ceremony_id": ceremony_id, "challenge": challenge,
                             "audience": audience, "purpose": purpose})
    return cms.CMSAttribute({"type": OID_CEREMONY_BINDING, "values": [core.Any.load(value.dump())]})


@dataclass(frozen=True)
class Ceremony:
    ceremony_id: str
    challenge: bytes
    audience: str
    purpose: str

    def as_dict(self) -> dict:
        return {"ceremony_id": self.ceremony_id, "challenge": self.challenge.hex(), "audience": self.audience,
                "purpose": self.purpose}


@dataclass(frozen=True)
class VerificationRecord(Judged):
    """What a caller stores beside what was signed."""

    verified_at: dt.datetime
    verdict: Verdict
    log: str
    content_sha256: str
    signer_sha256: str | None = None
    chain: tuple[bytes, ...] = field(default=(), repr=False)  # DER: signer certificate, trust anchor
    revocation: dict | None = None  # CRL number/thisUpdate or the OCSP answer consulted
    signing_time_claimed: dt.datetime | None = None  # reported, never trusted
    ceremony: Ceremony | None = None
    facts: facts_mod.SignatureFacts | None = None
    certificate: Result | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {
            "verified_at": self.verified_at.isoformat(), "verdict": self.verdict.value, "log": self.log,
            "content_sha256": self.content_sha256, "signer_sha256": self.signer_sha256,
            "chain": [base64.b64encode(c).decode() for c in self.chain],
            "revocation": self.revocation,
            "signing_time_claimed": self.signing_time_claimed.isoformat() if self.signing_time_claimed else None,
            "ceremony": self.ceremony.as_dict() if self.ceremony else None,
            "facts": self.facts.as_dict() if self.facts else None,
        }


def _load(signature: bytes) -> cms.SignedData:
    if not isinstance(signature, bytes | bytearray) or len(signature) > MAX_CMS_BYTES:
        raise MalformedInput("CMS signature missing or oversized")
    data = bytes(signature)
    if data.lstrip()[:10] == b"-----BEGIN":
        lines = [ln for ln in data.strip().splitlines() if not ln.startswith(b"-----")]
        try:
            data = base64.b64decode(b"".join(lines), validate=True)
        except ValueError:
            raise MalformedInput("bad base64 in PEM CMS") from None
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedInput(f"CMS content type is {info['content_type'].native}, not signedData")
        sd = info["content"]
    except MalformedInput:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise MalformedInput(f"not a CMS SignedData: {exc}") from None
    return sd


def _attr(attrs: cms.CMSAttributes, name: str) -> list:
    found = [a for a in attrs if a["type"].native == name or a["type"].dotted == name]
    if len(found) > 1:
        raise MalformedInput(f"signed attribute {name} appears twice")
    if not found:
        return []
    values = list(found[0]["values"])
    if len(values) != 1:
        raise MalformedInput(f"signed attribute {name} must have exactly one value")
    return values


def _find_signer(sd: cms.SignedData, sid: cms.SignerIdentifier) -> tuple[x509.Certificate, bytes]:
    """The signer's certificate and its DER exactly as carried (captured before any field access:
    asn1crypto re-encodes what it has touched)."""
    for choice in sd["certificates"] or []:
        if choice.name != "certificate":
            continue
        c = choice.chosen
        raw = c.dump()
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if c.serial_number == ias["serial_number"].native and (
                    c.issuer.dump() == ias["issuer"].dump() or c.issuer == ias["issuer"]):
                return x509.load_der_x509_certificate(raw), raw
        elif sid.name == "subject_key_identifier":
            if c.key_identifier == sid.chosen.native:
                return x509.load_der_x509_certificate(raw), raw
    raise MalformedInput("the signer's certificate is not in the CMS")


def _verify_sig(cert: x509.Certificate, sig_alg: str, hash_name: str, signature: bytes, data: bytes) -> bool:
    key = cert.public_key()
    algorithm = _HASHES[hash_name]()
    try:
        if sig_alg in _RSA_SIGS and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif sig_alg in _EC_SIGS and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise UnsupportedAlgorithm(f"signature algorithm {sig_alg} does not fit the signer's key")
    except InvalidSignature:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _facts(der: bytes) -> facts_mod.SignatureFacts | None:
    """The four facts of a signer certificate, a function of its bytes alone (immutable),
    so kept per certificate: a resident signs many documents with one card. Nothing about
    validity or revocation is cached here (the validator judges those at every call)."""
    try:
        return facts_mod.from_certificate(x509.load_der_x509_certificate(der))
    except (PKIError, ValueError, x509.InvalidVersion):
        return None


_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError, UnicodeDecodeError)


@dataclass(frozen=True)
class Claimed:
    """What a CMS says of itself, read without verifying anything: its ceremony binding, and
    the digest (and its algorithm) of the content it claims to sign."""

    ceremony: Ceremony | None
    digest_algorithm: str
    message_digest: bytes | None  # None: no signed attributes (a signature over the content's digest itself)

    def covers(self, content: bytes) -> bool:
        """Whether the content is the one the CMS claims to sign (its messageDigest). A CMS
        without signed attributes claims nothing readable: False."""
        if self.digest_algorithm not in _HASHES or self.message_digest is None:
            return False
        digester = hashes.Hash(_HASHES[self.digest_algorithm]())
        digester.update(content)
        return digester.finalize() == self.message_digest


def claimed(signature: bytes) -> Claimed:
    """The claims of a single-signer CMS, unverified: for a caller that compares them with a
    verification record stored when the CMS was verified (the ceremony's). Bad input raises
    MalformedInput."""
    try:
        infos = list(_load(signature)["signer_infos"])
        if len(infos) != 1:
            raise MalformedInput("exactly one signer is accepted")
        attrs = infos[0]["signed_attrs"]
        if not len(attrs):
            # No signed attributes (RFC 5652 §5.4: the signature is over the content's digest):
            # the national app's signature, wrapped by madoguchi, whose ceremony is named in
            # an unsigned attribute — a claim, checked by the caller against the ceremony's
            # stored bytes.
            md, attrs = [None], infos[0]["unsigned_attrs"]
        else:
            md = _attr(attrs, "message_digest")
        if not md:
            raise MalformedInput("messageDigest signed attribute missing")
        ceremony = None
        values = _attr(attrs, OID_CEREMONY_BINDING) if len(attrs) else []
        if values:
            b = CeremonyBinding.load(values[0].dump(), strict=True)
            ceremony = Ceremony(b["ceremony_id"].native, b["challenge"].native, b["audience"].native,
                                b["purpose"].native)
        return Claimed(ceremony, infos[0]["digest_algorithm"]["algorithm"].native,
                       md[0].native if md[0] is not None else None)
    except PKIError:
        raise
    except _PARSE_ERRORS as exc:
        raise MalformedInput(f"CMS does not parse: {type(exc).__name__}: {exc}") from None


def verify_detached(signature: bytes, content: bytes | None, validator: Validator,
                    at: dt.datetime | None = None, *, content_sha256: bytes | None = None) -> VerificationRecord:
    """Verifies a CAdES-BES SignedData over `content` (detached; or encapsulated when
    `content` is None). With `content_sha256` instead of `content`, a detached SHA-256
    signature is checked against that digest (a relying party that registered only the
    digest of its document). Bad input raises PKIError; an invalid signature returns a
    record whose verdict says why."""
    try:
        return _verify_detached(signature, content, validator, at or dt.datetime.now(UTC), content_sha256)
    except PKIError:
        raise
    except _PARSE_ERRORS as exc:  # asn1crypto parses lazily: a structural error can surface anywhere
        raise MalformedInput(f"CMS does not parse: {type(exc).__name__}: {exc}") from None


def _verify_detached(signature: bytes, content: bytes | None, validator: Validator,
                     at: dt.datetime, given_sha256: bytes | None = None) -> VerificationRecord:
    sd = _load(signature)
    infos = list(sd["signer_infos"])
    if not infos:
        raise MalformedInput("the CMS has no signer")
    if len(infos) > 1:
        raise MalformedInput(f"the CMS has {len(infos)} signers; exactly one is accepted")
    si = infos[0]
    attrs = si["signed_attrs"]
    # The signature covers the attributes exactly as received, re-tagged as SET (RFC 5652 §5.4):
    # take their bytes now, before asn1crypto normalises anything we read from them.
    signed_bytes = b"\x31" + attrs.dump()[1:]
    encap = sd["encap_content_info"]
    if given_sha256 is not None:
        if content is not None or len(given_sha256) != 32:
            raise MalformedInput("give the content or its 32-byte SHA-256, not both")
        if encap["content"].native is not None:
            raise MalformedInput("a digest-only verification needs a detached CMS")
    elif content is None:
        if encap["content"].native is None:
            raise MalformedInput("detached CMS given without its content")
        content = encap["content"].native
    elif encap["content"].native is not None and encap["content"].native != content:
        raise MalformedInput("CMS encapsulates content different from the content given")
    hash_name = si["digest_algorithm"]["algorithm"].native
    if hash_name not in _HASHES:
        raise UnsupportedAlgorithm(f"digest algorithm {hash_name} is not accepted")
    sig_alg = si["signature_algorithm"]["algorithm"].native
    if sig_alg not in _RSA_SIGS | _EC_SIGS:
        raise UnsupportedAlgorithm(f"signature algorithm {sig_alg} is not accepted")
    if given_sha256 is not None:
        if hash_name != "sha256":
            raise UnsupportedAlgorithm(f"a digest-only verification needs SHA-256, not {hash_name}")
        content_digest, content_sha256 = bytes(given_sha256), bytes(given_sha256).hex()
    else:
        h = _HASHES[hash_name]()
        digester = hashes.Hash(h)
        digester.update(content)
        content_digest = digester.finalize()
        content_sha256 = hashlib.sha256(content).hexdigest()
    if not len(attrs):
        raise MalformedInput("no signed attributes: not CAdES-BES")
    try:
        ct = _attr(attrs, "content_type")
        md = _attr(attrs, "message_digest")
        st = _attr(attrs, "signing_time")
        ess = _attr(attrs, "signing_certificate_v2")
        ceremony_values = _attr(attrs, OID_CEREMONY_BINDING)
        if not ct or not md:
            raise MalformedInput("contentType or messageDigest signed attribute missing")
        if ct[0].native != encap["content_type"].native:
            raise MalformedInput("contentType attribute differs from the encapsulated content type")
        claimed = st[0].native if st else None
        ceremony = None
        if ceremony_values:
            b = CeremonyBinding.load(ceremony_values[0].dump(), strict=True)
            if b["version"].native != 1:
                raise MalformedInput(f"ceremony binding version {b['version'].native} unknown")
            ceremony = Ceremony(b["ceremony_id"].native, b["challenge"].native, b["audience"].native,
                                b["purpose"].native)
        signer, signer_der = _find_signer(sd, si["sid"])
    except PKIError:
        raise
    # InvalidVersion is no ValueError: a mutated certificate claiming X.509 "v4" (found by the fuzz).
    except (ValueError, TypeError, KeyError, AttributeError, x509.InvalidVersion) as exc:
        raise MalformedInput(f"signed attributes do not parse: {exc}") from None
    common = dict(verified_at=at, content_sha256=content_sha256, signer_sha256=hashlib.sha256(signer_der).hexdigest(),
                  signing_time_claimed=claimed, ceremony=ceremony)

    if md[0].native != content_digest:
        return VerificationRecord(verdict=Verdict.BAD_SIGNATURE, log="messageDigest does not match the content",
                                  chain=(signer_der,), **common)
    if ess:
        certs = ess[0]["certs"]
        if not len(certs):
            raise MalformedInput("signingCertificateV2 names no certificate")
        first = certs[0]
        alg = first["hash_algorithm"]["algorithm"].native
        if alg not in _HASHES:
            raise UnsupportedAlgorithm(f"signingCertificateV2 hash {alg} is not accepted")
        hh = hashes.Hash(_HASHES[alg]())
        hh.update(signer_der)
        if first["cert_hash"].native != hh.finalize():
            return VerificationRecord(verdict=Verdict.BAD_SIGNATURE,
                                      log="signingCertificateV2 names another certificate",
                                      chain=(signer_der,), **common)
    if not _verify_sig(signer, sig_alg, hash_name, si["signature"].native, signed_bytes):
        return VerificationRecord(verdict=Verdict.BAD_SIGNATURE, log="signature over the signed attributes "
                                  "does not verify", chain=(signer_der,), **common)
    result = validator.validate(signer_der, "sign", at)
    chain = (signer_der,) + ((result.anchor.der,) if result.anchor else ())
    four = _facts(signer_der)
    return VerificationRecord(verdict=result.verdict, log=result.log, chain=chain,
                              revocation=result.revocation.as_dict() if result.revocation else None,
                              facts=four, certificate=result, **common)



def verify_digest_signature(signature: bytes, cert_der: bytes, content_sha256: bytes, validator: Validator,
                            at: dt.datetime | None = None) -> VerificationRecord:
    """A bare RSASSA-PKCS1-v1_5/SHA-256 signature over a document whose SHA-256 is
    `content_sha256`, by `cert_der` (the national authentication app's sign result): the
    signature checked against the digest, the certificate validated for purpose `sign` at the
    verification time (chain to the anchors, validity, revocation). The same record as for a
    CMS; an invalid one says why in its verdict."""
    from .challenge import verify_challenge

    at = at or dt.datetime.now(UTC)
    if len(content_sha256) != 32:
        raise MalformedInput("a SHA-256 digest is 32 bytes")
    try:
        x509.load_der_x509_certificate(cert_der)
    except (ValueError, x509.InvalidVersion):
        raise MalformedInput("the signer certificate does not parse") from None
    checked = verify_challenge(validator, cert_der, signature, digest=content_sha256, at=at, purpose="sign")
    result = checked.certificate
    chain = (cert_der,) + ((result.anchor.der,) if result.anchor else ())
    return VerificationRecord(verified_at=at, verdict=checked.verdict, log=result.log,
                              content_sha256=content_sha256.hex(), signer_sha256=hashlib.sha256(cert_der).hexdigest(),
                              chain=chain, revocation=result.revocation.as_dict() if result.revocation else None,
                              facts=_facts(cert_der), certificate=result)
