"""Detached CAdES-BES CMS (SignedData, DER) whose only private-key operation is an external
signer — the card. Structures by asn1crypto; no hand-written ASN.1.

CAdES-BES here = CMS SignedData with signed attributes contentType, messageDigest,
signingTime and ESS signingCertificateV2 (RFC 5035) over the signer's certificate.
Verification (issue 4) is elsewhere; `openssl cms -verify` accepts what this builds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as ax509

# signer(digest_info_der) -> PKCS#1 v1.5 signature bytes
DigestInfoSigner = Callable[[bytes], bytes]


def digest_info(digest: bytes) -> bytes:
    # No "parameters" key, so the NULL is written (see card.jpki.digest_info_sha256).
    return algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"}, "digest": digest}).dump()


def signed_attributes(content_digest: bytes, cert: ax509.Certificate, signing_time: dt.datetime,
                      extra: Iterable[cms.CMSAttribute] = ()) -> cms.CMSAttributes:
    ess = tsp.SigningCertificateV2({
        "certs": [{
            "hash_algorithm": {"algorithm": "sha256"},
            "cert_hash": hashlib.sha256(cert.dump()).digest(),
            "issuer_serial": {
                "issuer": [ax509.GeneralName("directory_name", cert.issuer)],
                "serial_number": cert.serial_number,
            },
        }],
    })
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [ess]}),
        *extra,
    ]
    return cms.CMSAttributes(attrs)


def sign_detached(content: bytes, cert_der: bytes, signer: DigestInfoSigner,
                  extra_certs: Iterable[bytes] = (), extra_attributes: Iterable[cms.CMSAttribute] = (),
                  signing_time: dt.datetime | None = None) -> bytes:
    """DER ContentInfo(SignedData) over `content` (detached), signed by `signer`."""
    return sign_detached_digest(hashlib.sha256(content).digest(), cert_der, signer, extra_certs, extra_attributes,
                                signing_time)


def sign_detached_digest(content_sha256: bytes, cert_der: bytes, signer: DigestInfoSigner,
                         extra_certs: Iterable[bytes] = (), extra_attributes: Iterable[cms.CMSAttribute] = (),
                         signing_time: dt.datetime | None = None) -> bytes:
    """The same, from the SHA-256 of the content: a detached CMS needs only the digest
    (the messageDigest attribute), so a document a relying party keeps to itself can be signed."""
    if len(content_sha256) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    cert = ax509.Certificate.load(cert_der)
    when = (signing_time or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    attrs = signed_attributes(content_sha256, cert, when, extra_attributes)
    # The signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4).
    signature = signer(digest_info(hashlib.sha256(attrs.dump()).digest()))
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier("issuer_and_serial_number", cms.IssuerAndSerialNumber({
            "issuer": cert.issuer, "serial_number": cert.serial_number})),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": attrs,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": signature,
    })
    certificates = [cert] + [ax509.Certificate.load(c) for c in extra_certs]
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cms.CertificateChoices("certificate", c) for c in certificates],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def signer_certificate(cms_der: bytes) -> bytes:
    """The DER of the first certificate carried by a CMS SignedData."""
    info = cms.ContentInfo.load(cms_der)
    certs = info["content"]["certificates"]
    return certs[0].chosen.dump() if len(certs) else b""



def signed_data_over_digest(cert_der: bytes, signature: bytes,
                            unsigned_attributes: Iterable[cms.CMSAttribute] = ()) -> bytes:
    """A detached CMS SignedData around a signature made over the content's SHA-256 itself
    (no signed attributes, RFC 5652 §5.4: the national authentication app signs a registered
    digest), with the signer's certificate: what `openssl cms -verify -binary -content FILE`
    accepts like any PKCS#7 detached signature. `unsigned_attributes` (the ceremony binding)
    are carried, not signed."""
    cert = ax509.Certificate.load(cert_der)
    fields = {
        "version": "v1",
        "sid": cms.SignerIdentifier("issuer_and_serial_number", cms.IssuerAndSerialNumber({
            "issuer": cert.issuer, "serial_number": cert.serial_number})),
        "digest_algorithm": {"algorithm": "sha256"},
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": signature,
    }
    unsigned = list(unsigned_attributes)
    if unsigned:
        fields["unsigned_attrs"] = cms.CMSAttributes(unsigned)
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cms.CertificateChoices("certificate", cert)],
        "signer_infos": [cms.SignerInfo(fields)],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
