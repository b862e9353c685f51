"""Test and benchmark material for certificate verification: CAs and end-entity certificates
with any field a test needs (expired, not yet valid, wrong key usage, unknown critical
extension…), and CRLs of any size.

`big_crl` builds a CRL of millions of entries in linear time: cryptography's
CertificateRevocationListBuilder is quadratic when entries are added one by one, so the
entries' DER is concatenated here, the TBSCertList assembled by asn1crypto around it, and its
DER signed by cryptography. Never used for anything but tests, benchmarks and demonstrations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import core as acore
from asn1crypto import crl as acrl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import crlindex, profile

UTC = dt.timezone.utc


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ca_name(purpose: str, org: str = "JPKI-TEST") -> x509.Name:
    ou = profile.OU_AUTH if purpose == "auth" else profile.OU_SIGN
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, profile.J_LIS_OU),
    ])


def _ku(**on) -> x509.KeyUsage:
    fields = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                  data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                  encipher_only=False, decipher_only=False)
    fields.update(on)
    return x509.KeyUsage(**fields)


@dataclass
class CA:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    purpose: str

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_ca(purpose: str, name: x509.Name | None = None, ca_key: rsa.RSAPrivateKey | None = None,
            not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> CA:
    """A self-signed JPKI-shaped root. Pass the same `name` for several generations."""
    ca_key = ca_key or key()
    name = name or ca_name(purpose)
    start = not_before or now() - dt.timedelta(days=30)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(not_after or start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ku(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return CA(ca_key, cert, purpose)


def issue(ca: CA, public_key, purpose: str | None = None, *, not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None, serial: int | None = None,
          facts: profile.BasicFour | None = None, key_usage: x509.KeyUsage | None = None,
          ca_flag: bool = False, extra: Iterable[tuple[x509.ExtensionType, bool]] = (),
          aki: bool = True, subject: x509.Name | None = None) -> x509.Certificate:
    """An end-entity certificate shaped like JPKI's, for `purpose` (default: the CA's)."""
    purpose = purpose or ca.purpose
    start = not_before or now() - dt.timedelta(days=1)
    if key_usage is None:
        key_usage = _ku(digital_signature=True, content_commitment=(purpose == "sign"))
    if subject is None:
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "TEST" + str(x509.random_serial_number())[:19])])
    b = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject)
        .public_key(public_key).serial_number(serial or x509.random_serial_number())
        .not_valid_before(start).not_valid_after(not_after or start + dt.timedelta(days=365 * 5))
        .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()), critical=False)
    if purpose == "auth":
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        b = b.add_extension(x509.CertificatePolicies([x509.PolicyInformation(profile.OID_POLICY_AUTH, None)]), critical=False)
    else:
        b = b.add_extension(x509.CertificatePolicies([x509.PolicyInformation(profile.OID_POLICY_SIGN, None)]), critical=False)
        if facts is not None:
            b = b.add_extension(profile.san_for(facts), critical=False)
    for ext, critical in extra:
        b = b.add_extension(ext, critical=critical)
    return b.sign(ca.key, hashes.SHA256())


def crl(ca: CA, revoked: Iterable[tuple[int, dt.datetime, x509.ReasonFlags | None]] = (), *,
        number: int = 1, this_update: dt.datetime | None = None, next_update: dt.datetime | None = None,
        signer: rsa.RSAPrivateKey | None = None, extra: Iterable[tuple[x509.ExtensionType, bool]] = ()
        ) -> x509.CertificateRevocationList:
    """A small CRL by cryptography's builder (fine for a few thousand entries)."""
    this = this_update or now() - dt.timedelta(minutes=5)
    b = (
        x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
        .last_update(this).next_update(next_update or this + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()), critical=False)
    )
    for ext, critical in extra:
        b = b.add_extension(ext, critical=critical)
    for serial, when, reason in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        b = b.add_revoked_certificate(rb.build())
    return b.sign(signer or ca.key, hashes.SHA256())


# -- big CRLs in linear time -----------------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _der_len(len(content)) + content


# CRLReason extension DER for reason code r: SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED r } }
_REASON_EXT = {r: bytes.fromhex("300a0603551d150403") + bytes((0x0a, 0x01, r)) for r in range(11)}


def _entry(serial: int, when_der: bytes, reason: int | None) -> bytes:
    body = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    content = _tlv(0x02, body) + when_der
    if reason is not None:
        content += _tlv(0x30, _REASON_EXT[reason])
    return _tlv(0x30, content)


def big_crl_der(ca: CA, serials: Iterable[int], *, when: dt.datetime | None = None, reason: int | None = 1,
                number: int = 1, this_update: dt.datetime | None = None,
                next_update: dt.datetime | None = None) -> bytes:
    """DER of a CRL revoking every serial in `serials` (same date; reason code, e.g. 3 affiliationChanged)."""
    when_der = acore.UTCTime((when or now() - dt.timedelta(hours=1)).astimezone(UTC)).dump()
    entries = b"".join(_entry(s, when_der, reason) for s in serials)
    this = this_update or now() - dt.timedelta(minutes=5)
    aki = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    # asn1crypto encodes everything but the entries; the entry list is spliced in before the
    # crlExtensions [0] as bytes (handing it to asn1crypto makes it build an object per entry,
    # which at 10 million entries costs gigabytes and minutes of garbage collection).
    tbs = acrl.TbsCertList({
        "version": "v2",
        "signature": {"algorithm": "sha256_rsa"},
        "issuer": acrl.Name.load(ca.cert.subject.public_bytes()),
        "this_update": acrl.Time({"utc_time": this}),
        "next_update": acrl.Time({"utc_time": next_update or this + dt.timedelta(days=1)}),
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {"extn_id": "authority_key_identifier", "critical": False, "extn_value": {"key_identifier": aki}},
        ],
    })
    small = tbs.dump()
    _, start, end = crlindex._tl(small, 0, len(small))
    p = start
    while p < end:
        tag, _, following = crlindex._tl(small, p, end)
        if tag == 0xA0:
            break
        p = following
    tbs_der = _tlv(0x30, small[start:p] + (_tlv(0x30, entries) if entries else b"") + small[p:end])
    signature = ca.key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
    alg = bytes.fromhex("300d06092a864886f70d01010b0500")
    return _tlv(0x30, tbs_der + alg + _tlv(0x03, b"\x00" + signature))
