"""End-entity validation: one test per verdict, trust by key identifier across CA generations
that share one name (including the real J-LIS roots), and the cache."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from madoguchi.pki import crlindex, testing, trust
from madoguchi.pki.validation import MESSAGES, Validator, Verdict
from tests.pki.conftest_validation import crl_der, der, jlis_roots, world  # noqa: F401

UTC = dt.timezone.utc


def test_valid_auth_and_sign(world):
    v = world.validator()
    a = v.validate(der(world.auth_cert), "auth")
    s = v.validate(world.sign_cert, "sign")
    assert a.verdict is Verdict.VALID and s.verdict is Verdict.VALID
    assert a.anchor.cert == world.auth_ca.cert and s.anchor.cert == world.sign_ca.cert
    assert a.revocation.source == "crl" and a.revocation.crl.number == 1
    # Identified by SHA-256 and (issuer key id, serial), never by serial alone.
    assert a.key == (trust.key_identifier(world.auth_ca.cert).hex(), world.auth_cert.serial_number)
    assert len(a.sha256) == 64


def test_expired(world):
    v = world.validator()
    later = world.auth_cert.not_valid_after_utc + dt.timedelta(seconds=1)
    r = v.validate(world.auth_cert, "auth", at=later)
    assert r.verdict is Verdict.EXPIRED
    old = testing.issue(world.auth_ca, world.auth_key.public_key(),
                        not_before=testing.now() - dt.timedelta(days=20), not_after=testing.now() - dt.timedelta(days=1))
    assert v.validate(old, "auth").verdict is Verdict.EXPIRED


def test_not_yet_valid(world):
    future = testing.issue(world.auth_ca, world.auth_key.public_key(), not_before=testing.now() + dt.timedelta(days=2))
    assert world.validator().validate(future, "auth").verdict is Verdict.NOT_YET_VALID


def test_revoked_with_reason_and_date(world):
    when = testing.now() - dt.timedelta(hours=3)
    v = world.validator(revoked_sign=[(world.sign_cert.serial_number, when, x509.ReasonFlags.affiliation_changed)])
    r = v.validate(world.sign_cert, "sign")
    assert r.verdict is Verdict.REVOKED
    assert r.revocation.entry.reason == "affiliationChanged"
    assert r.revocation.entry.revoked_at == when
    assert "失効" in r.message_ja and "revoked" in r.message_en
    # The auth certificate survives a change of name or address.
    assert v.validate(world.auth_cert, "auth").verdict is Verdict.VALID


def test_untrusted_unknown_ca(world):
    stranger = testing.make_ca("auth", ca_key=world.other_key)
    cert = testing.issue(stranger, world.auth_key.public_key())
    assert world.validator().validate(cert, "auth").verdict is Verdict.UNTRUSTED


def test_untrusted_same_name_other_key(world):
    """A CA with the trusted CA's exact name and even its key identifier, but another key."""
    forger = testing.CA(world.other_key, world.auth_ca.cert, "auth")  # claims the real CA's identity
    cert = testing.issue(forger, world.auth_key.public_key())
    assert cert.issuer == world.auth_ca.cert.subject
    r = world.validator().validate(cert, "auth")
    assert r.verdict is Verdict.UNTRUSTED


@pytest.mark.parametrize("cert_attr,purpose", [("sign_cert", "auth"), ("auth_cert", "sign")])
def test_wrong_purpose_other_ca(world, cert_attr, purpose):
    r = world.validator().validate(getattr(world, cert_attr), purpose)
    assert r.verdict is Verdict.WRONG_PURPOSE
    assert "CA" in r.log


def test_wrong_purpose_key_usage(world):
    # A certificate from the sign CA without nonRepudiation cannot sign.
    ku = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                       data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                       encipher_only=False, decipher_only=False)
    cert = testing.issue(world.sign_ca, world.sign_key.public_key(), key_usage=ku)
    r = world.validator().validate(cert, "sign")
    assert r.verdict is Verdict.WRONG_PURPOSE and "nonRepudiation" in r.log


def test_wrong_purpose_ca_certificate_as_end_entity(world):
    cert = testing.issue(world.auth_ca, world.auth_key.public_key(), ca_flag=True)
    assert world.validator().validate(cert, "auth").verdict is Verdict.WRONG_PURPOSE


def test_malformed_garbage_truncated_oversized(world):
    v = world.validator()
    good = der(world.auth_cert)
    assert v.validate(b"not a certificate", "auth").verdict is Verdict.MALFORMED
    assert v.validate(good[:-10], "auth").verdict is Verdict.MALFORMED
    assert v.validate(good + b"\x00", "auth").verdict is Verdict.MALFORMED
    assert v.validate(b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 20000, "auth").verdict is Verdict.MALFORMED


def test_malformed_unknown_critical_extension(world):
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5.6.7"), b"\x05\x00")
    cert = testing.issue(world.auth_ca, world.auth_key.public_key(), extra=[(ext, True)])
    r = world.validator().validate(cert, "auth")
    assert r.verdict is Verdict.MALFORMED and "critical" in r.log
    # The same extension, not critical, is ignored.
    cert = testing.issue(world.auth_ca, world.auth_key.public_key(), extra=[(ext, False)])
    assert world.validator().validate(cert, "auth").verdict is Verdict.VALID


def test_malformed_unexpected_signature_algorithm(world):
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
         .issuer_name(world.auth_ca.cert.subject).public_key(world.auth_key.public_key())
         .serial_number(7).not_valid_before(testing.now() - dt.timedelta(days=1))
         .not_valid_after(testing.now() + dt.timedelta(days=1)))
    cert = b.sign(world.auth_ca.key, hashes.SHA224())  # valid signature, refused algorithm
    r = world.validator().validate(cert, "auth")
    assert r.verdict is Verdict.MALFORMED and "not accepted" in r.log


def test_revocation_unknown_without_crl_fails_closed(world):
    v = Validator(world.trust())
    r = v.validate(world.sign_cert, "sign")
    assert r.verdict is Verdict.REVOCATION_UNKNOWN
    assert not r.ok


def test_stale_crl_policy(world):
    ts = world.trust()
    store = crlindex.RevocationStore()
    old = testing.crl(world.auth_ca, this_update=testing.now() - dt.timedelta(hours=30),
                      next_update=testing.now() - dt.timedelta(hours=6))
    store.import_crl(crl_der(old), ts, allow_expired=True)
    assert Validator(ts, store).validate(world.auth_cert, "auth").verdict is Verdict.REVOCATION_UNKNOWN
    gate = crlindex.RevocationPolicy(grace=dt.timedelta(hours=8))
    assert Validator(ts, store, policy=gate).validate(world.auth_cert, "auth").verdict is Verdict.VALID
    strict_gate = crlindex.RevocationPolicy(grace=dt.timedelta(hours=2))
    assert Validator(ts, store, policy=strict_gate).validate(world.auth_cert, "auth").verdict \
        is Verdict.REVOCATION_UNKNOWN
    lenient = crlindex.RevocationPolicy(on_missing="accept")
    r = Validator(ts, crlindex.RevocationStore(), policy=lenient).validate(world.auth_cert, "auth")
    assert r.verdict is Verdict.VALID and r.revocation.source == "none"


def test_every_verdict_has_both_messages():
    for verdict in Verdict:
        ja, en = MESSAGES[verdict]
        assert ja and en and ja != en


def test_cache_skips_signature_but_sees_new_revocation(world, monkeypatch):
    v = world.validator()
    assert v.validate(world.auth_cert, "auth").ok
    monkeypatch.setattr(v.trust, "issuer_of", lambda *a, **k: pytest.fail("signature re-checked"))
    assert v.validate(world.auth_cert, "auth").ok
    newer = testing.crl(world.auth_ca, [(world.auth_cert.serial_number, testing.now(), x509.ReasonFlags.key_compromise)],
                        number=2)
    v.revocation.import_crl(crl_der(newer), world.trust())
    r = v.validate(world.auth_cert, "auth")
    assert r.verdict is Verdict.REVOKED and r.revocation.entry.reason == "keyCompromise"


def test_generations_share_a_name_matched_by_key_id(world):
    """Two CA generations, one DN: a serial revoked under one never revokes the other's."""
    gen1 = testing.make_ca("sign")
    gen2 = testing.make_ca("sign", name=gen1.cert.subject, ca_key=world.other_key)
    assert gen1.cert.subject == gen2.cert.subject
    ts = trust.TrustStore()
    ts.add(gen1.cert, "sign")
    ts.add(gen2.cert, "sign")
    serial = 0x1234567890
    c1 = testing.issue(gen1, world.sign_key.public_key(), serial=serial)
    c2 = testing.issue(gen2, world.sign_key.public_key(), serial=serial)
    c2_no_aki = testing.issue(gen2, world.sign_key.public_key(), serial=serial + 1, aki=False)
    store = crlindex.RevocationStore()
    store.import_crl(crl_der(testing.crl(gen1, [(serial, testing.now(), x509.ReasonFlags.superseded)])), ts)
    store.import_crl(crl_der(testing.crl(gen2)), ts)
    v = Validator(ts, store)
    r1, r2, r3 = v.validate(c1, "sign"), v.validate(c2, "sign"), v.validate(c2_no_aki, "sign")
    assert r1.verdict is Verdict.REVOKED
    assert r2.verdict is Verdict.VALID and r2.anchor.cert == gen2.cert
    assert r3.verdict is Verdict.VALID and r3.anchor.cert == gen2.cert  # found by signature, not name
    assert r1.key != r2.key and r1.key[1] == r2.key[1]


def test_real_jlis_roots_share_names_and_are_told_apart(world, tmp_path, jlis_roots):
    for purpose in ("auth", "sign"):
        for year in (2015, 2023):
            trust.install((jlis_roots / f"{purpose}_ca_{year}.pem").read_bytes(), purpose, tmp_path)
    ts = trust.TrustStore.load(tmp_path)
    auth = ts.anchors("auth")
    assert len(auth) == 2 and len(ts.anchors("sign")) == 2
    assert auth[0].cert.subject == auth[1].cert.subject  # same DN across generations
    assert auth[0].key_id != auth[1].key_id
    ids = {a.key_id.hex() for a in auth}
    assert ids == {"9567951b5ca70d84a0fff1d85a87f1aab1340385", "1ac100f596a3bc8c4b3df195e32699249e9e308a"}
    # A certificate naming J-LIS as issuer (and the 2023 key id) but signed by another key.
    gen2023 = next(a for a in auth if a.key_id.hex().startswith("1ac1"))
    forged = testing.issue(testing.CA(world.other_key, gen2023.cert, "auth"), world.auth_key.public_key())
    assert forged.issuer == gen2023.cert.subject
    assert ts.issuer_of(forged, "auth") is None
    r = Validator(ts).validate(forged, "auth")
    assert r.verdict is Verdict.UNTRUSTED
    # The 2015 generation expired on 2025-10-19 (JPKI.md §5).
    gen2015 = next(a for a in auth if a.key_id.hex().startswith("9567"))
    assert not gen2015.valid_at(dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert gen2023.valid_at(dt.datetime(2026, 1, 1, tzinfo=UTC))


def test_trust_store_refuses_non_anchors(world, tmp_path):
    with pytest.raises(trust.TrustStoreError):
        trust.install(der(world.auth_cert), "auth", tmp_path)  # an end entity
    with pytest.raises(trust.TrustStoreError):
        trust.install(world.auth_ca.pem, "both", tmp_path)
    with pytest.raises(trust.MalformedInput):
        trust.install(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "auth", tmp_path)


def test_cache_dropped_when_anchors_change(world):
    gen2 = testing.make_ca("auth", name=world.auth_ca.cert.subject, ca_key=world.other_key)
    cert = testing.issue(gen2, world.auth_key.public_key())
    v = world.validator()
    assert v.validate(cert, "auth").verdict is Verdict.UNTRUSTED
    v.trust.add(gen2.cert, "auth")  # an operator installs a new generation
    v.revocation.import_crl(crl_der(testing.crl(gen2)), v.trust)
    assert v.validate(cert, "auth").verdict is Verdict.VALID


def test_default_validator_uses_the_dev_ca_and_persisted_crls(tmp_path):
    from madoguchi.pki.devca import DevCA
    from madoguchi.pki.validation import default_validator
    from tests.pki.conftest_validation import HOLDER
    ca = DevCA.open(tmp_path)
    card = ca.issue_card(HOLDER)
    v = default_validator(tmp_path)
    assert v.validate(card.auth_cert, "auth").verdict is Verdict.REVOCATION_UNKNOWN  # no CRL yet
    store = crlindex.RevocationStore.open(crlindex.crl_dir(tmp_path))
    store.import_crl(crl_der(ca.crl("auth")), v.trust)
    v.revocation.refresh()
    assert v.validate(card.auth_cert, "auth").verdict is Verdict.VALID
