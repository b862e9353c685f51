"""`madoguchi pki trust|crl|verify`, called through madoguchi.pki.commands.main."""

from __future__ import annotations

import io
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from madoguchi.pki import cms, commands, testing
from tests.pki.conftest_validation import card_signer, crl_der, der, jlis_roots, world  # noqa: F401

CONTENT = b"application form"


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = commands.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def data(tmp_path, world):
    d = tmp_path / "data"
    (tmp_path / "auth.pem").write_bytes(world.auth_ca.pem)
    (tmp_path / "sign.der").write_bytes(der(world.sign_ca.cert))
    assert run("--data-dir", str(d), "trust", "add", str(tmp_path / "auth.pem"), "--purpose", "auth")[0] == 0
    assert run("--data-dir", str(d), "trust", "add", str(tmp_path / "sign.der"), "--purpose", "sign")[0] == 0
    return d


def test_trust_list(data, world):
    code, out, _ = run("--data-dir", str(data), "trust", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("auth\t") and lines[1].startswith("sign\t")
    assert "valid" in lines[0]


def test_trust_add_real_roots(tmp_path, jlis_roots):
    for f in ("auth_ca_2015.pem", "auth_ca_2023.pem"):
        code, out, err = run("--data-dir", str(tmp_path), "trust", "add", str(jlis_roots / f), "--purpose", "auth")
        assert code == 0, err
    code, out, _ = run("--data-dir", str(tmp_path), "trust", "list")
    assert out.count("OU=JPKI for user authentication") == 2 and "EXPIRED" in out


def test_trust_add_bad_input(tmp_path, world):
    (tmp_path / "junk.pem").write_bytes(b"junk")
    code, out, err = run("--data-dir", str(tmp_path), "trust", "add", str(tmp_path / "junk.pem"), "--purpose", "auth")
    assert code == 2 and err.count("\n") == 1
    code, _, err = run("--data-dir", str(tmp_path), "trust", "add", str(tmp_path / "missing"), "--purpose", "sign")
    assert code == 2 and "cannot read" in err
    code, _, err = run("--data-dir", str(tmp_path), "trust", "add", str(tmp_path / "junk.pem"), "--purpose", "both")
    assert code == 2 and err.count("\n") == 1


def test_crl_import_and_status(data, world, tmp_path):
    path = tmp_path / "sign.crl"
    path.write_bytes(testing.big_crl_der(world.sign_ca, range(1, 5001), number=3))
    code, out, err = run("--data-dir", str(data), "crl", "import", str(path))
    assert code == 0, err
    assert "5000 revoked" in out and "number 3" in out
    assert "100%" in err  # progress
    code, out, _ = run("--data-dir", str(data), "crl", "status")
    assert code == 0 and "number 3" in out and "fresh" in out


def test_crl_import_refused(data, world, tmp_path):
    path = tmp_path / "forged.crl"
    path.write_bytes(crl_der(testing.crl(world.sign_ca, signer=world.other_key)))
    code, _, err = run("--data-dir", str(data), "crl", "import", str(path), "--quiet")
    assert code == 1 and "crl_untrusted" in err
    path.write_bytes(b"\x30\x80garbage")
    code, _, err = run("--data-dir", str(data), "crl", "import", str(path), "--quiet")
    assert code == 2 and err.count("\n") == 1


def _files(tmp_path, world, cert=None, key=None, content=CONTENT):
    sig = cms.sign_detached(CONTENT, der(cert or world.sign_cert), card_signer(key or world.sign_key))
    (tmp_path / "s.p7s").write_bytes(sig)
    (tmp_path / "c.txt").write_bytes(content)
    return str(tmp_path / "s.p7s"), str(tmp_path / "c.txt")


def _import_crls(data, world, tmp_path, revoked_sign=()):
    for name, ca, revoked in (("a", world.auth_ca, ()), ("s", world.sign_ca, revoked_sign)):
        (tmp_path / f"{name}.crl").write_bytes(crl_der(testing.crl(ca, revoked)))
        assert run("--data-dir", str(data), "crl", "import", str(tmp_path / f"{name}.crl"), "--quiet")[0] == 0


def test_verify_valid_prints_facts(data, world, tmp_path):
    _import_crls(data, world, tmp_path)
    sig, content = _files(tmp_path, world)
    code, out, err = run("--data-dir", str(data), "verify", "--signature", sig, "--content", content)
    assert code == 0, out + err
    assert "窓口\u3000花子" in out and "verdict: valid" in out and "CRL number 1" in out
    code, out, _ = run("--data-dir", str(data), "verify", "--signature", sig, "--content", content, "--json")
    assert json.loads(out)["verdict"] == "valid"


def test_verify_invalid_exit_1(data, world, tmp_path):
    _import_crls(data, world, tmp_path, revoked_sign=[(world.sign_cert.serial_number, testing.now(),
                                                        x509.ReasonFlags.affiliation_changed)])
    sig, content = _files(tmp_path, world)
    code, out, _ = run("--data-dir", str(data), "verify", "--signature", sig, "--content", content)
    assert code == 1 and "revoked" in out and "affiliationChanged" in out
    sig, content = _files(tmp_path, world, content=CONTENT + b"x")
    code, out, _ = run("--data-dir", str(data), "verify", "--signature", sig, "--content", content)
    assert code == 1 and "bad_signature" in out


def test_verify_without_crl_fails_closed(data, world, tmp_path):
    sig, content = _files(tmp_path, world)
    code, out, _ = run("--data-dir", str(data), "verify", "--signature", sig, "--content", content)
    assert code == 1 and "revocation_unknown" in out


def test_verify_bad_input_exit_2(data, world, tmp_path):
    (tmp_path / "junk.p7s").write_bytes(b"\x30\x03\x02\x01\x01")
    (tmp_path / "c.txt").write_bytes(CONTENT)
    code, out, err = run("--data-dir", str(data), "verify", "--signature", str(tmp_path / "junk.p7s"),
                         "--content", str(tmp_path / "c.txt"))
    assert code == 2 and err.count("\n") == 1 and not out
    code, _, err = run("--data-dir", str(data), "verify", "--signature", str(tmp_path / "nope"),
                       "--content", str(tmp_path / "c.txt"))
    assert code == 2
    code, _, err = run("--data-dir", str(data), "verify", "--content", str(tmp_path / "c.txt"))
    assert code == 2 and err.count("\n") == 1


def test_dev_ca_trusted_when_nothing_installed(tmp_path):
    """With no anchors installed, the development CA in the data directory is trusted."""
    from madoguchi.pki.devca import DevCA
    from tests.pki.conftest_validation import HOLDER
    ca = DevCA.open(tmp_path)
    store = commands.load_trust(str(tmp_path))
    assert {a.purpose for a in store.anchors()} == {"auth", "sign"}
    card = ca.issue_card(HOLDER)
    crl = ca.crl("sign").public_bytes(serialization.Encoding.DER)
    (tmp_path / "s.crl").write_bytes(crl)
    assert run("--data-dir", str(tmp_path), "crl", "import", str(tmp_path / "s.crl"), "--quiet")[0] == 0
    sig = cms.sign_detached(CONTENT, der(card.sign_cert), card_signer(card.sign_key))
    (tmp_path / "s.p7s").write_bytes(sig)
    (tmp_path / "c.txt").write_bytes(CONTENT)
    code, out, _ = run("--data-dir", str(tmp_path), "verify", "--signature", str(tmp_path / "s.p7s"),
                       "--content", str(tmp_path / "c.txt"))
    assert code == 0, out
