"""Interoperability with an independent implementation: OpenSC's JPKI driver (written
against real My Number Cards) reads and signs with the virtual card served through
pcscd + vpcd — certificates, PIN tries, PKCS#11 signatures with both keys.

Needs Debian's `opensc` (in scripts/apt-packages.txt); skipped locally without it, failed under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from madoguchi.card import virtual

from .conftest import PASSWORD, PIN

MODULE_PATHS = ("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
                "/usr/lib/opensc-pkcs11.so")


@pytest.fixture
def opensc(vpcd_slot, card_dir, tmp_path):
    module = next((p for p in MODULE_PATHS if os.path.exists(p)), None)
    if shutil.which("pkcs15-tool") is None or module is None:
        if os.environ.get("CI") == "true":
            pytest.fail("OpenSC is not installed (Debian package opensc)")
        pytest.skip("OpenSC is not installed (Debian package opensc)")
    holder, _name = vpcd_slot
    holder.card = virtual.VirtualCard(card_dir)
    env = {**os.environ, "HOME": str(tmp_path)}  # no OpenSC file cache shared with anything else

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), capture_output=True, timeout=60, env=env)

    run.module = module
    return run


def test_opensc_lists_the_jpki_certificates_and_pins(opensc):
    result = opensc("pkcs15-tool", "--reader", "0", "--list-certificates")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    for label in ("User Authentication Certificate", "Digital Signature Certificate",
                  "User Authentication Certificate CA", "Digital Signature Certificate CA"):
        assert f"[{label}]" in out
    result = opensc("pkcs15-tool", "--reader", "0", "--list-pins")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert out.count("Tries left     : 3") == 1 and out.count("Tries left     : 5") == 1


def test_opensc_signs_with_both_keys(opensc, tmp_path):
    message = tmp_path / "m.txt"
    message.write_bytes(b"signed by OpenSC through PKCS#11")
    for key_id, token, secret in (("01", "JPKI (User Authentication PIN)", PIN),
                                  ("02", "JPKI (Digital Signature PIN)", PASSWORD)):
        signature = tmp_path / f"{key_id}.sig"
        result = opensc("pkcs11-tool", "--module", opensc.module, "--token-label", token, "--login",
                        "--pin", secret, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", key_id,
                        "-i", str(message), "-o", str(signature))
        assert result.returncode == 0, result.stderr.decode()
        read = ["pkcs15-tool", "--reader", "0", "--read-certificate", key_id]
        if key_id == "02":
            read += ["--auth-id", "02", "--pin", secret]
        result = opensc(*read)
        assert result.returncode == 0, result.stderr.decode()
        cert = x509.load_pem_x509_certificate(result.stdout)
        cert.public_key().verify(signature.read_bytes(), message.read_bytes(), padding.PKCS1v15(), hashes.SHA256())


def test_opensc_wrong_pin_counts_down(opensc):
    result = opensc("pkcs15-tool", "--reader", "0", "--verify-pin", "--auth-id", "01", "--pin", "0000")
    assert result.returncode != 0
    result = opensc("pkcs15-tool", "--reader", "0", "--list-pins")
    assert "Tries left     : 2" in result.stdout.decode()
