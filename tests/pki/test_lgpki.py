"""The development LGPKI-shaped CA and PAdES signing/verification (pure library, no Django):
each signed PDF is checked by pyHanko and, independently, by poppler's pdfsig."""

import subprocess
import sys

import pytest
import weasyprint
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from madoguchi.pki import lgpki, pades
from tests.documents.independent import flip_signed_byte, nss_database, pdfsig


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return lgpki.DevLGPKI.open(tmp_path_factory.mktemp("lgpki"))


@pytest.fixture(scope="module")
def signed(ca, tmp_path_factory):
    identity = ca.organisation("139998", "窓口市")
    pdf = weasyprint.HTML(string="<p>窓口市 受付票 髙橋 𠮷野</p>").write_pdf()
    out = tmp_path_factory.mktemp("pdf") / "signed.pdf"
    out.write_bytes(pades.sign_pdf(pdf, identity, reason="受付票", location="窓口市"))
    return out


def test_three_levels_marked_development(ca):
    identity = ca.organisation("139998", "窓口市")
    cert, (intermediate,) = identity.certificate, identity.chain
    assert intermediate.issuer == ca.root.subject and cert.issuer == intermediate.subject
    cert.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(ca.root)
    for c in (ca.root, intermediate, cert):
        assert c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "LGPKI-DEV"
        assert any("development" in a.value for a in c.subject)
    assert "窓口市" in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment
    # Kept: the same identity the next time, keys readable by the owner only.
    again = ca.organisation("139998", "窓口市")
    assert again.certificate == cert
    assert (ca.directory / "organisations" / "139998" / "key.pem").stat().st_mode & 0o077 == 0


def test_bad_codes_refused(ca):
    for code in ("", "12345", "1234567", "../../x", "13999a"):
        with pytest.raises(lgpki.LGPKIError):
            ca.organisation(code, "窓口市")


def test_pyhanko_and_pdfsig_accept_and_trust(ca, signed, tmp_path):
    verdict = pades.verify_pdf(signed.read_bytes(), [ca.root])
    assert verdict.ok, verdict
    assert verdict.signer_cn == "窓口市 (development)"
    report = pdfsig(signed, nss_database(tmp_path / "nss", ca.root_path))
    assert report.signature_valid and report.trusted and report.whole_document, report.output
    assert "ETSI.CAdES.detached" in report.output


def test_one_changed_byte_detected_by_both(ca, signed, tmp_path):
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(flip_signed_byte(signed.read_bytes()))
    verdict = pades.verify_pdf(tampered.read_bytes(), [ca.root])
    assert not verdict.ok and not verdict.intact
    report = pdfsig(tampered, nss_database(tmp_path / "nss", ca.root_path))
    assert not report.signature_valid, report.output
    assert "Digest Mismatch" in report.output


def test_other_root_not_trusted_by_either(signed, tmp_path):
    other = lgpki.DevLGPKI.open(tmp_path / "other")
    assert not pades.verify_pdf(signed.read_bytes(), [other.root]).trusted
    report = pdfsig(signed, nss_database(tmp_path / "nss", other.root_path))
    assert report.signature_valid and not report.trusted, report.output


def test_appended_content_is_not_valid(ca, signed):
    data = signed.read_bytes() + b"\n% appended after signing\n"
    verdict = pades.verify_pdf(data, [ca.root])
    assert not verdict.ok


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7\n garbage", b"%PDF-1.4\n" + b"\0" * 1000])
def test_not_a_signed_pdf_is_input_error(data, ca):
    with pytest.raises(pades.PdfInputError):
        pades.verify_pdf(data, [ca.root])


def test_unsigned_pdf_is_input_error(ca):
    with pytest.raises(pades.PdfInputError):
        pades.verify_pdf(weasyprint.HTML(string="<p>x</p>").write_pdf(), [ca.root])


def test_install_real_identity_checks_the_pair(tmp_path, ca):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = ca.issue_organisation("279994", "見本町", key.public_key())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(lgpki.LGPKIError, match="does not belong"):
        lgpki.install(tmp_path, "279994", other, lgpki.pem(cert))
    with pytest.raises(lgpki.LGPKIError):
        lgpki.install(tmp_path, "279994", b"not a key", lgpki.pem(cert))
    installed = lgpki.install(tmp_path, "279994", key_pem, lgpki.pem(cert), lgpki.pem(ca.intermediate))
    assert installed.source == "installed" and installed.chain == [ca.intermediate]
    assert lgpki.load_installed(tmp_path, "279994").certificate == cert
    assert lgpki.load_installed(tmp_path, "139998") is None  # documents/signers.py says install-key


def run_cli(*args, env_dir):
    import os

    env = {**os.environ, "MADOGUCHI_DATA_DIR": str(env_dir)}
    return subprocess.run([sys.executable, "-m", "madoguchi", "pki", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_verify_pdf(ca, signed, tmp_path):
    ok = run_cli("verify-pdf", str(signed), env_dir=ca.directory.parent)
    assert ok.returncode == 0, ok.stderr
    assert "signer: 窓口市 (development)" in ok.stdout and "verdict: valid" in ok.stdout
    tampered = tmp_path / "t.pdf"
    tampered.write_bytes(flip_signed_byte(signed.read_bytes()))
    bad = run_cli("verify-pdf", str(tampered), "--trust", str(ca.root_path), env_dir=tmp_path)
    assert bad.returncode == 1 and "verdict: invalid" in bad.stdout
    for args in (["verify-pdf", "/nonexistent.pdf"], ["verify-pdf", str(ca.root_path), "--trust", str(ca.root_path)],
                 ["verify-pdf", str(signed), "--trust", str(signed)], ["verify-pdf", str(signed)]):
        result = run_cli(*args, env_dir=tmp_path / "empty")
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
