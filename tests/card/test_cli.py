"""`madoguchi card …`: issue → show → sign → `openssl cms -verify`, exit codes, serve-pcsc."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from madoguchi.card import cli

from .conftest import PASSWORD, PIN, TEXT_PIN


def run(*argv, capsys):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path, dev_ca, monkeypatch):
    """A data directory holding the session's dev CA (no new CA keys per test)."""
    directory = tmp_path / "data"
    shutil.copytree(dev_ca.directory, directory / "dev-ca")
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def issued(data, card_template):
    """A card in <data>/cards/hanako (copied from the session's card, issued by the same CA)."""
    shutil.copytree(card_template, data / "cards" / "hanako")
    return "hanako"


def test_issue_show_sign_and_openssl_verifies(data, tmp_path, capsys):
    code, out, err = run("issue", "--out", "taro", "--name", "山田 太郎", "--birth", "1990-01-02", "--sex", "1",
                         "--address", "東京都千代田区霞が関１－２－３", "--pin", PIN, "--password", "abc123",
                         "--text-pin", TEXT_PIN, capsys=capsys)
    assert code == 0, err
    assert (data / "cards" / "taro" / "card.json").exists()
    assert oct((data / "cards" / "taro" / "card.json").stat().st_mode & 0o777) == "0o600"
    assert PIN not in out and "ABC123" not in out  # PINs chosen by the resident are never echoed

    code, out, err = run("show", "--card", "taro", "--text-pin", TEXT_PIN, capsys=capsys)
    assert code == 0, err
    assert "JPKIAPICCTOKEN2" in out
    assert "auth PIN         3 tries left" in out and "sign password    5 tries left" in out
    assert "山田\u3000太郎" in out and "1990-01-02" in out and "1 (male)" in out
    assert "individual number" not in out
    assert "O=JPKI-DEV" in out and "serial" in out

    document = tmp_path / "application.json"
    document.write_bytes('{"procedure": "転入届"}'.encode())
    signature = tmp_path / "application.json.p7s"
    code, out, err = run("sign", "--card", "taro", "--in", str(document), "--out", str(signature),
                         "--password", "abc123", capsys=capsys)
    assert code == 0, err
    export = tmp_path / "export"
    from madoguchi.pki import cli as pki_cli

    assert pki_cli.main(["dev-ca", "export", str(export)]) == 0
    capsys.readouterr()
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
         "-content", str(document), "-CAfile", str(export / "sign-ca.pem"), "-purpose", "any",
         "-out", os.devnull],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr

    document.write_bytes(b"tampered")
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
         "-content", str(document), "-CAfile", str(export / "sign-ca.pem"), "-purpose", "any",
         "-out", os.devnull], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_cms_is_cades_bes(issued, tmp_path, capsys):
    from asn1crypto import cms

    document = tmp_path / "doc.txt"
    document.write_bytes(b"hello")
    out_file = tmp_path / "doc.p7s"
    assert run("sign", "--card", issued, "--in", str(document), "--out", str(out_file), "--password", PASSWORD,
               capsys=capsys)[0] == 0
    info = cms.ContentInfo.load(out_file.read_bytes())
    signed = info["content"]
    assert signed["encap_content_info"]["content"].native is None  # detached
    attrs = {a["type"].native for a in signed["signer_infos"][0]["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_time", "signing_certificate_v2"} <= attrs


def test_individual_number_only_when_asked(issued, data, capsys):
    import json

    number = json.loads((data / "cards" / issued / "card.json").read_text())["text"]["mynumber"]
    code, out, _ = run("show", "--card", issued, "--text-pin", TEXT_PIN, capsys=capsys)
    assert code == 0 and number not in out
    code, out, _ = run("show", "--card", issued, "--text-pin", TEXT_PIN, "--individual-number", capsys=capsys)
    assert code == 0 and number in out


def test_wrong_password_then_blocked(issued, tmp_path, capsys):
    document = tmp_path / "doc.txt"
    document.write_bytes(b"x")
    args = ["sign", "--card", issued, "--in", str(document), "--out", str(tmp_path / "x.p7s"), "--password", "WRONG1"]
    for left in (4, 3, 2, 1):
        code, out, err = run(*args, capsys=capsys)
        assert code == 1
        assert f"残り{left}回" in err and f"{left} tries left" in err
    code, out, err = run(*args, capsys=capsys)
    assert code == 1 and "窓口" in err and "city hall" in err
    code, out, err = run(*args[:-1], PASSWORD, capsys=capsys)
    assert code == 1 and "city hall" in err
    assert not (tmp_path / "x.p7s").exists()


def test_reset_pin_needs_the_issuing_ca(issued, data, tmp_path, capsys, monkeypatch):
    document = tmp_path / "doc.txt"
    document.write_bytes(b"x")
    for _ in range(3):
        run("show", "--card", issued, "--text-pin", "0000", capsys=capsys)
    code, out, _ = run("show", "--card", issued, capsys=capsys)
    assert "text PIN         blocked" in out
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(tmp_path / "elsewhere"))
    code, _, err = run("reset-pin", str(data / "cards" / issued), capsys=capsys)
    assert code == 1 and "issuing office" in err
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(data))
    code, out, err = run("reset-pin", issued, "--text-pin", "2468", capsys=capsys)
    assert code == 0, err
    code, out, err = run("show", "--card", issued, "--text-pin", "2468", capsys=capsys)
    assert code == 0 and "text PIN         3 tries left" in out


@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["show"],
    ["show", "--card", "a", "--reader"],
    ["issue", "--out", "x", "--name", "n", "--birth", "1990-13-40", "--sex", "1", "--address", "a"],
    ["issue", "--out", "x", "--name", "n", "--birth", "1990-01-02", "--sex", "3", "--address", "a"],
    ["issue", "--out", "x", "--name", "n", "--birth", "1990-01-02", "--sex", "1", "--address", "a", "--pin", "12"],
    ["issue", "--out", "x", "--name", "n", "--birth", "1990-01-02", "--sex", "1", "--address", "a",
     "--password", "abc"],
    ["show", "--card", "no-such-card"],
    ["sign", "--card", "x", "--in", "/nonexistent", "--out", "/tmp/x.p7s", "--password", "ABC123"],
    ["show", "--card", "hanako", "--individual-number"],
    ["show", "--card", "hanako", "--text-pin", "12345"],
    ["face", "--card", "hanako"],
    ["face", "--card", "hanako", "--code-b", "123"],
    ["face", "--card", "hanako", "--code-b", "5502172035228X"],
    ["face", "--card", "hanako", "--code-b", "55021720352285", "--security-code", "2285"],
    ["face", "--card", "hanako", "--birth", "1990-01-02", "--expiry-year", "2036"],
    ["face", "--card", "hanako", "--birth", "1990-01-02", "--expiry-year", "2036", "--security-code", "12a4"],
    ["face", "--card", "hanako", "--birth", "1990-01-02", "--expiry-year", "36", "--security-code", "1234"],
    ["face", "--card", "hanako", "--code-b", "55021720352285", "--issuer-key", "5000023=/nonexistent.pem"],
    ["face", "--card", "hanako", "--code-b", "55021720352285", "--issuer-key", "nonsense"],
])
def test_bad_arguments_exit_2_with_one_line(issued, argv, capsys):
    code, out, err = run(*argv, capsys=capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("madoguchi card: ")


def test_the_madoguchi_command_hands_over_to_the_card_library(data, issued):
    result = subprocess.run([sys.executable, "-m", "madoguchi", "card", "show", "--card", issued],
                            capture_output=True, text=True, timeout=120, env={**os.environ})
    assert result.returncode == 0, result.stderr
    assert "JPKIAPICCTOKEN2" in result.stdout
    result = subprocess.run([sys.executable, "-m", "madoguchi", "card", "nonsense"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_serve_pcsc_show_and_sign_through_a_reader(pcscd, data, issued, tmp_path, capsys, request):
    """The PC/SC run end to end: `serve-pcsc` in its own process, `show`/`sign --reader` here."""
    from madoguchi.card.vpcd import configured_port, reader_name

    port = configured_port() + 1  # the second vpcd slot; the conformance suite uses the first
    proc = subprocess.Popen([sys.executable, "-m", "madoguchi", "card", "serve-pcsc", issued, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "serving" in line, proc.stderr.read() if proc.poll() is not None else line
        name = reader_name(port, configured_port())
        code, out, err = run("show", "--reader", name, "--password", PASSWORD, capsys=capsys)
        assert code == 0, err
        assert "JPKIAPICCTOKEN2" in out and "signature certificate:" in out
        document = tmp_path / "doc.txt"
        document.write_bytes(b"signed through PC/SC")
        signature = tmp_path / "doc.p7s"
        code, out, err = run("sign", "--reader", name, "--in", str(document), "--out", str(signature),
                             "--password", PASSWORD, capsys=capsys)
        assert code == 0, err
        export = tmp_path / "export"
        from madoguchi.pki import cli as pki_cli

        pki_cli.main(["dev-ca", "export", str(export)])
        result = subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
             "-content", str(document), "-CAfile", str(export / "sign-ca.pem"), "-purpose", "any",
             "-out", os.devnull], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    time.sleep(0)  # keep the fixture order explicit


def test_face_prints_the_verified_fields(issued, data, tmp_path, capsys):
    import json

    from madoguchi.card import face

    from .conftest import HOLDER

    text = json.loads((data / "cards" / issued / "card.json").read_text())["text"]
    expiry_year, security_code = text["card_expiry"][:4], text["security_code"]
    photo = tmp_path / "photo.jp2"
    code, out, err = run("face", "--card", issued, "--birth", HOLDER.birth.isoformat(), "--expiry-year",
                         expiry_year, "--security-code", security_code, "--photo", str(photo), capsys=capsys)
    assert code == 0, err
    assert "card face verified: record signed by 9100001/001, CV certificate by issuer 9000023/001" in out
    assert "1990-01-02 (era YYMMDD 020102)" in out and "2 (female)" in out and security_code in out
    assert HOLDER.name in out and HOLDER.address in out
    assert photo.read_bytes().startswith(face.JP2_SIGNATURE)

    wrong = face.code_b(HOLDER.birth, int(expiry_year), f"{(int(security_code) + 1) % 10000:04d}")
    code, out, err = run("face", "--card", issued, "--code-b", wrong, capsys=capsys)
    assert code == 1 and "残り9回" in err and "9 tries left" in err and err.count("\n") == 1

    # another issuer configured: the CV certificate is refused, exit 1 with the reason
    from cryptography.hazmat.primitives import serialization

    from madoguchi.card import virtual

    other = virtual.face_issuer(tmp_path / "other").public_key()
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    right = face.code_b(HOLDER.birth, int(expiry_year), security_code)
    code, out, err = run("face", "--card", issued, "--code-b", right, "--issuer-key", f"9000023/001={pem}",
                         capsys=capsys)
    assert code == 1 and "CV certificate: signature does not verify under issuer key 9000023/001" in err
