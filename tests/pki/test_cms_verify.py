"""CAdES-BES / CMS detached verification: the record, each bad input, and OpenSSL both ways."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess

import pytest
from asn1crypto import cms as acms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from madoguchi.pki import cms, testing
from madoguchi.pki.errors import MalformedInput, PKIError, UnsupportedAlgorithm
from madoguchi.pki.validation import Verdict
from madoguchi.pki.verify import OID_CEREMONY_BINDING, ceremony_attribute, verify_detached
from tests.pki.conftest_validation import HOLDER, card_signer, der, raw_card_signer, world  # noqa: F401

CONTENT = "転出届\n氏名: 窓口 花子\n".encode()
# Skips locally without openssl; under CI=true it runs (and fails), like the card layer's PC/SC tests.
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None and os.environ.get("CI") != "true",
                                   reason="openssl not installed")


def sign(world, content=CONTENT, cert=None, key=None, **kw) -> bytes:
    cert = cert or world.sign_cert
    key = key or world.sign_key
    return cms.sign_detached(content, der(cert), card_signer(key), **kw)


def test_valid_record(world):
    binding = ceremony_attribute("c-42", b"\x01" * 32, "https://city.example.lg.jp")
    claimed = dt.datetime(2020, 5, 1, tzinfo=dt.timezone.utc)  # long before the certificate existed
    sig = sign(world, extra_attributes=[binding], signing_time=claimed)
    rec = verify_detached(sig, CONTENT, world.validator())
    assert rec.verdict is Verdict.VALID, rec.log
    assert rec.signing_time_claimed == claimed  # reported …
    assert rec.verified_at > claimed  # … but the verification time is the server's
    assert rec.ceremony.ceremony_id == "c-42" and rec.ceremony.challenge == b"\x01" * 32
    assert rec.ceremony.audience == "https://city.example.lg.jp" and rec.ceremony.purpose == "sign"
    assert rec.chain == (der(world.sign_cert), der(world.sign_ca.cert))
    assert rec.revocation["source"] == "crl" and rec.revocation["crl_number"] == 1
    assert rec.revocation["crl_this_update"]
    assert rec.facts.name == HOLDER.name and rec.facts.sex == "2"
    d = rec.as_dict()
    assert d["verdict"] == "valid" and d["ceremony"]["ceremony_id"] == "c-42" and len(d["chain"]) == 2


def test_without_ceremony_binding(world):
    rec = verify_detached(sign(world), CONTENT, world.validator())
    assert rec.ok and rec.ceremony is None
    assert OID_CEREMONY_BINDING.startswith("2.25.")


def test_tampered_content(world):
    rec = verify_detached(sign(world), CONTENT + b" ", world.validator())
    assert rec.verdict is Verdict.BAD_SIGNATURE and "messageDigest" in rec.log


def test_tampered_signature_value(world):
    info = acms.ContentInfo.load(sign(world))
    si = info["content"]["signer_infos"][0]
    sig = bytearray(si["signature"].native)
    sig[10] ^= 1
    si["signature"] = bytes(sig)
    rec = verify_detached(info.dump(force=True), CONTENT, world.validator())
    assert rec.verdict is Verdict.BAD_SIGNATURE


def test_signed_with_authentication_certificate(world):
    sig = sign(world, cert=world.auth_cert, key=world.auth_key)
    rec = verify_detached(sig, CONTENT, world.validator())
    assert rec.verdict is Verdict.WRONG_PURPOSE


def test_revoked_signer(world):
    when = testing.now() - dt.timedelta(minutes=1)
    v = world.validator(revoked_sign=[(world.sign_cert.serial_number, when, x509.ReasonFlags.affiliation_changed)])
    rec = verify_detached(sign(world), CONTENT, v)
    assert rec.verdict is Verdict.REVOKED
    assert rec.revocation["reason"] == "affiliationChanged"


def test_expired_signer_even_if_signing_time_claims_otherwise(world):
    cert = testing.issue(world.sign_ca, world.sign_key.public_key(), facts=HOLDER,
                         not_before=testing.now() - dt.timedelta(days=30), not_after=testing.now() - dt.timedelta(days=1))
    sig = sign(world, cert=cert, signing_time=testing.now() - dt.timedelta(days=10))
    assert verify_detached(sig, CONTENT, world.validator()).verdict is Verdict.EXPIRED


def test_untrusted_signer(world):
    stranger = testing.make_ca("sign", ca_key=world.other_key)
    cert = testing.issue(stranger, world.sign_key.public_key(), facts=HOLDER)
    assert verify_detached(sign(world, cert=cert), CONTENT, world.validator()).verdict is Verdict.UNTRUSTED


def _with_signer_infos(sig: bytes, infos) -> bytes:
    info = acms.ContentInfo.load(sig)
    info["content"]["signer_infos"] = infos
    return info.dump(force=True)


def test_no_signer(world):
    with pytest.raises(MalformedInput, match="no signer"):
        verify_detached(_with_signer_infos(sign(world), []), CONTENT, world.validator())


def test_several_signers(world):
    si = acms.ContentInfo.load(sign(world))["content"]["signer_infos"][0]
    with pytest.raises(MalformedInput, match="2 signers"):
        verify_detached(_with_signer_infos(sign(world), [si, si]), CONTENT, world.validator())


def test_unexpected_digest_algorithm(world):
    info = acms.ContentInfo.load(sign(world))
    info["content"]["signer_infos"][0]["digest_algorithm"] = {"algorithm": "md5"}
    with pytest.raises(UnsupportedAlgorithm):
        verify_detached(info.dump(force=True), CONTENT, world.validator())


def test_pss_refused(world):
    info = acms.ContentInfo.load(sign(world))
    info["content"]["signer_infos"][0]["signature_algorithm"] = {"algorithm": "rsassa_pss"}
    with pytest.raises(UnsupportedAlgorithm):
        verify_detached(info.dump(force=True), CONTENT, world.validator())


def test_truncated_garbage_oversized(world):
    sig = sign(world)
    for bad in (sig[:-1], sig[: len(sig) // 2], b"", b"\x30\x03\x02\x01", b"hello", sig + b"\x00",
                b"\x30\x84\xff\xff\xff\xff", b"x" * (2 * 1024 * 1024)):
        with pytest.raises(PKIError):
            verify_detached(bad, CONTENT, world.validator())


def test_signer_by_subject_key_identifier(world):
    info = acms.ContentInfo.load(sign(world))
    ski = world.sign_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    si = info["content"]["signer_infos"][0]
    si["sid"] = acms.SignerIdentifier("subject_key_identifier", ski)
    si["version"] = "v3"
    info["content"]["version"] = "v3"
    assert verify_detached(info.dump(force=True), CONTENT, world.validator()).verdict is Verdict.VALID


def test_signer_certificate_missing(world):
    info = acms.ContentInfo.load(sign(world))
    info["content"]["certificates"] = []
    with pytest.raises(MalformedInput, match="signer's certificate"):
        verify_detached(info.dump(force=True), CONTENT, world.validator())


def test_ess_names_another_certificate(world):
    """signingCertificateV2 binds the certificate: swapping in another certificate of the same
    key (same issuer and serial claim impossible, so: a re-issued certificate) is detected."""
    other = testing.issue(world.sign_ca, world.sign_key.public_key(), facts=HOLDER,
                          serial=world.sign_cert.serial_number)
    info = acms.ContentInfo.load(sign(world))
    from asn1crypto import x509 as ax509
    info["content"]["certificates"] = [acms.CertificateChoices("certificate", ax509.Certificate.load(der(other)))]
    rec = verify_detached(info.dump(force=True), CONTENT, world.validator())
    assert rec.verdict is Verdict.BAD_SIGNATURE and "signingCertificateV2" in rec.log


@needs_openssl
def test_openssl_verifies_ours(world, tmp_path):
    sig = sign(world, extra_attributes=[ceremony_attribute("c-1", b"\x02" * 32, "aud")])
    (tmp_path / "s.p7s").write_bytes(sig)
    (tmp_path / "c.txt").write_bytes(CONTENT)
    (tmp_path / "ca.pem").write_bytes(world.sign_ca.pem)
    r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "s.p7s",
                        "-content", tmp_path / "c.txt", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
                        "-out", "/dev/null"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    (tmp_path / "c.txt").write_bytes(CONTENT + b"!")
    r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "s.p7s",
                        "-content", tmp_path / "c.txt", "-CAfile", tmp_path / "ca.pem", "-purpose", "any",
                        "-out", "/dev/null"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0


@needs_openssl
def test_we_verify_openssls(world, tmp_path):
    (tmp_path / "c.txt").write_bytes(CONTENT)
    (tmp_path / "cert.pem").write_bytes(world.sign_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(world.sign_key.private_bytes(  # test key, in a temporary dir
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    r = subprocess.run(["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER", "-cades",
                        "-in", tmp_path / "c.txt", "-signer", tmp_path / "cert.pem", "-inkey", tmp_path / "key.pem",
                        "-out", tmp_path / "s.p7s"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    sig = (tmp_path / "s.p7s").read_bytes()
    rec = verify_detached(sig, CONTENT, world.validator())
    assert rec.verdict is Verdict.VALID, rec.log
    assert rec.signing_time_claimed is not None
    assert verify_detached(sig, CONTENT[:-1], world.validator()).verdict is Verdict.BAD_SIGNATURE


def test_digest_info_needs_null_parameters(world):
    """A real card signs exactly the DigestInfo it is given. With the NULL parameters of
    RFC 8017 §9.2 the result is the standard signature, which we and OpenSSL accept; without
    them (an encoding some clients send) the signature is refused, by us as by OpenSSL."""
    msg = b"challenge"
    digest = hashlib.sha256(msg).digest()
    with_null = bytes.fromhex("3031300d060960864801650304020105000420") + digest
    without_null = bytes.fromhex("302f300b0609608648016503040201" "0420") + digest
    plain = world.sign_key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    assert raw_card_signer(world.sign_key)(with_null) == plain
    bad = raw_card_signer(world.sign_key)(without_null)
    with pytest.raises(InvalidSignature):
        world.sign_key.public_key().verify(bad, msg, padding.PKCS1v15(), hashes.SHA256())


def test_signed_attributes_verified_as_received_not_re_encoded(world):
    """Some signers emit the SET OF signed attributes unsorted (not DER). The signature covers
    those bytes: we must check them as received, not as asn1crypto would re-sort them."""
    from madoguchi.pki import crlindex
    info = acms.ContentInfo.load(sign(world))
    si = info["content"]["signer_infos"][0]
    raw = si["signed_attrs"].dump()
    _, start, end = crlindex._tl(raw, 0, len(raw))
    items, p = [], start
    while p < end:
        _, _, nxt = crlindex._tl(raw, p, end)
        items.append(raw[p:nxt])
        p = nxt
    unsorted = raw[:start] + b"".join(reversed(items))
    assert unsorted != raw
    si["signed_attrs"] = acms.CMSAttributes.load(unsorted, implicit=0)
    si["signature"] = world.sign_key.sign(b"\x31" + unsorted[1:], padding.PKCS1v15(), hashes.SHA256())
    out = info.dump()
    assert unsorted in out
    assert verify_detached(out, CONTENT, world.validator()).verdict is Verdict.VALID
