"""The development JPKI CA: JPKI-shaped but never mistakable for J-LIS; issuing, the
certificate profile, revocation and CRLs; `madoguchi pki dev-ca`."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from madoguchi.pki import cli, profile
from madoguchi.pki.devca import DevCA, DevCAError, parse_serial
from tests.pki.conftest_validation import jlis_roots  # noqa: F401

FACTS = profile.BasicFour(name="髙橋\u3000一郎", address="大阪府大阪市北区中之島１丁目３番２０号",
                          birth=dt.date(1988, 2, 29), sex="1")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return DevCA.open(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def issued(ca):
    return ca.issue_card(FACTS)


def names(name: x509.Name, oid) -> list[str]:
    return [a.value for a in name.get_attributes_for_oid(oid)]


def test_ca_is_shaped_like_jlis_but_is_not_jlis(ca):
    for purpose, ou in (("auth", "JPKI for user authentication"), ("sign", "JPKI for digital signature")):
        cert = ca.certificate(purpose)
        assert names(cert.subject, NameOID.ORGANIZATION_NAME) == ["JPKI-DEV"]
        assert ou in names(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert "Japan Agency for Local Authority Information Systems" not in cert.subject.rfc4514_string()
        assert cert.subject == cert.issuer
        assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048
        assert cert.public_key().public_numbers().e == 65537
        assert cert.signature_hash_algorithm.name == "sha256"
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_real_jlis_roots_have_the_dn_our_dev_ca_mimics_but_not_its_organisation(ca, jlis_roots):
    for pem in sorted(jlis_roots.glob("*.pem")):
        real = x509.load_pem_x509_certificate(pem.read_bytes())
        assert names(real.subject, NameOID.ORGANIZATION_NAME) == ["JPKI"]
        purpose = "auth" if pem.name.startswith("auth") else "sign"
        real_ous = names(real.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert names(ca.certificate(purpose).subject, NameOID.ORGANIZATIONAL_UNIT_NAME)[0] == real_ous[0]
        assert real.subject != ca.certificate(purpose).subject
        assert ca.issued_by_me(real) is None


def test_ca_is_created_once_and_reopened(ca):
    again = DevCA.open(ca.directory.parent)
    assert again.certificate("auth") == ca.certificate("auth")
    assert oct((ca.directory / "auth-ca.key.pem").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(DevCAError):
        DevCA.open(ca.directory.parent / "nowhere", create=False)


def test_authentication_certificate_profile(ca, issued):
    cert = issued.auth_cert
    assert [a.oid for a in cert.subject] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    assert len(names(cert.subject, NameOID.COMMON_NAME)[0]) == 23
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.content_commitment
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert ca.issued_by_me(cert) == "auth"
    cert.verify_directly_issued_by(ca.certificate("auth"))


def test_signature_certificate_profile(ca, issued):
    cert = issued.sign_cert
    assert names(cert.subject, NameOID.COUNTRY_NAME) == ["JP"]
    assert len(names(cert.subject, NameOID.LOCALITY_NAME)) == 2
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    others = {o.type_id.dotted_string: o for o in san.get_values_for_type(x509.OtherName)}
    assert sorted(others) == [f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)]
    # 髙 is outside JIS X 0208: the substitute name carries 〓 in its place
    from asn1crypto.core import UTF8String

    assert UTF8String.load(others["1.2.392.200149.8.5.5.2"].value).native == "〓橋\u3000一郎"
    assert UTF8String.load(others["1.2.392.200149.8.5.5.4"].value).native == "319880229"  # 昭和 (3)
    assert profile.facts_from_certificate(cert) == FACTS
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dps[0].full_name[0].value == ca.crl_url("sign")
    assert ca.issued_by_me(cert) == "sign"


def test_validity_runs_to_the_fifth_birthday():
    issued = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone.utc)
    end = profile.validity_end(dt.date(1990, 1, 2), issued)
    assert end.astimezone(profile.JST).date() == dt.date(2031, 1, 2)
    # birthday later the same year: the first birthday after issue is this year's
    assert profile.validity_end(dt.date(1990, 12, 5), issued).astimezone(profile.JST).date() == dt.date(2030, 12, 5)
    # 29 February: 28 February in a common year
    assert profile.nth_birthday_after(dt.date(1988, 2, 29), dt.date(2026, 1, 1), 5) == dt.date(2030, 2, 28)


def test_signature_certificate_is_capped_by_the_authentication_certificate(issued):
    assert issued.sign_cert.not_valid_after_utc <= issued.auth_cert.not_valid_after_utc
    end = issued.sign_cert.not_valid_after_utc.astimezone(profile.JST)
    assert (end.month, end.day) in ((2, 28), (2, 29))  # born 29 February


def test_era_digits():
    assert profile.encode_birth(dt.date(1990, 1, 2)) == "419900102"
    assert profile.encode_birth(dt.date(1989, 1, 7)) == "319890107"
    assert profile.encode_birth(dt.date(2019, 5, 1)) == "520190501"
    assert profile.decode_birth("419900102") == dt.date(1990, 1, 2)


def test_revoke_and_crl(ca, issued):
    serial = issued.sign_cert.serial_number
    assert ca.revoke(serial, x509.ReasonFlags.affiliation_changed) == "sign"
    crl = ca.crl("sign")
    assert crl.is_signature_valid(ca.certificate("sign").public_key())
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.affiliation_changed
    assert ca.crl("auth").get_revoked_certificate_by_serial_number(serial) is None
    first = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert ca.crl("sign").extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == first + 1
    with pytest.raises(DevCAError):
        ca.revoke(12345)


def test_parse_serial():
    assert parse_serial("255") == 255 == parse_serial("0xff") == parse_serial("00:FF")
    with pytest.raises(DevCAError):
        parse_serial("zz")


def test_cli_export_and_revoke(ca, issued, tmp_path, capsys):
    data = ca.directory.parent
    serial = issued.auth_cert.serial_number
    assert cli.main(["--data-dir", str(data), "dev-ca", "revoke", f"0x{serial:x}", "--reason", "key-compromise"]) == 0
    assert cli.main(["--data-dir", str(data), "dev-ca", "export", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"auth-ca.pem", "sign-ca.pem", "auth.crl.pem", "sign.crl.pem",
                                                 "auth.crl", "sign.crl"}
    crl = x509.load_der_x509_crl((out / "auth.crl").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    capsys.readouterr()
    assert cli.main(["--data-dir", str(data), "dev-ca", "revoke", "77"]) == 1
    for argv in ([], ["dev-ca"], ["dev-ca", "revoke"], ["dev-ca", "revoke", "zz"],
                 ["dev-ca", "revoke", "1", "--reason", "because"]):
        capsys.readouterr()
        assert cli.main(["--data-dir", str(data), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("madoguchi pki: ")


def test_cms_signature_by_an_external_signer(ca, issued, tmp_path):
    import subprocess

    from asn1crypto import algos
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    from madoguchi.pki import cms

    def signer(info_der: bytes) -> bytes:  # the key stands in for a card here
        info = algos.DigestInfo.load(info_der)
        return issued.sign_key.sign(info["digest"].native, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    content = b"content"
    cert_der = issued.sign_cert.public_bytes(serialization.Encoding.DER)
    der = cms.sign_detached(content, cert_der, signer)
    assert cms.signer_certificate(der) == cert_der
    (tmp_path / "c").write_bytes(content)
    (tmp_path / "c.p7s").write_bytes(der)
    (tmp_path / "ca.pem").write_bytes(ca.certificate("sign").public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "c.p7s"),
                             "-content", str(tmp_path / "c"), "-CAfile", str(tmp_path / "ca.pem"),
                             "-purpose", "any", "-out", "/dev/null"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_cli_hands_trust_crl_verify_to_the_commands_module(ca, tmp_path, capsys):
    data = ca.directory.parent
    assert cli.main(["--data-dir", str(data), "trust", "list"]) == 0
    assert "trust" in capsys.readouterr().out
    assert cli.main(["--data-dir", str(data), "verify"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("madoguchi pki: ")
