"""OCSP client against the development responder: nonce, signature and authorisation checked."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from madoguchi.pki import crlindex, ocsp, testing
from madoguchi.pki.devca import DevCA
from madoguchi.pki.errors import MalformedInput, OCSPError
from madoguchi.pki.validation import Validator, Verdict
from tests.pki.conftest_validation import HOLDER, world  # noqa: F401

R = x509.ReasonFlags


def responder(world, revoked=None, **kw) -> ocsp.DevResponder:
    revoked = revoked or {}
    return ocsp.DevResponder(world.sign_ca.cert, world.sign_ca.key, revoked.get, **kw)


def test_good(world):
    client = ocsp.OCSPClient("http://ocsp.invalid/", transport=responder(world).transport)
    a = client.check(world.sign_cert, world.sign_ca.cert)
    assert a.status == "good" and a.next_update > a.this_update


def test_revoked_with_reason_and_date(world):
    when = testing.now() - dt.timedelta(days=1)
    r = responder(world, {world.sign_cert.serial_number: (when, R.affiliation_changed)})
    a = ocsp.OCSPClient("x", transport=r.transport).check(world.sign_cert, world.sign_ca.cert)
    assert a.status == "revoked" and a.revoked_at == when and a.reason == "affiliationChanged"


def test_validator_falls_back_to_ocsp(world):
    when = testing.now() - dt.timedelta(hours=1)
    r = responder(world, {world.sign_cert.serial_number: (when, R.key_compromise)})
    v = Validator(world.trust(), crlindex.RevocationStore(), ocsp=ocsp.OCSPClient("x", transport=r.transport))
    res = v.validate(world.sign_cert, "sign")
    assert res.verdict is Verdict.REVOKED and res.revocation.source == "ocsp"
    good = Validator(world.trust(), ocsp=ocsp.OCSPClient("x", transport=responder(world).transport))
    res = good.validate(world.sign_cert, "sign")
    assert res.verdict is Verdict.VALID and res.revocation.ocsp["status"] == "good"


def test_nonce_missing_and_replayed(world):
    silent = responder(world, echo_nonce=False)
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=silent.transport).check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_nonce"
    # Replay: an old, genuinely signed response answered to another request.
    old = responder(world).respond(ocsp.build_request(world.sign_cert, world.sign_ca.cert, b"\x01" * 16))
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=lambda url, body: old).check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_nonce"


def test_response_signed_by_a_stranger(world):
    stranger = testing.make_ca("sign", ca_key=world.other_key)
    r = ocsp.DevResponder(stranger.cert, stranger.key, {}.get)
    with pytest.raises(OCSPError):
        ocsp.OCSPClient("x", transport=lambda u, b: _reissue(r, b, world)).check(world.sign_cert, world.sign_ca.cert)


def _reissue(r, body, world):
    # The stranger answers as if it were the CA (same issuer hashes), signing with its own key.
    real = ocsp.DevResponder(world.sign_ca.cert, world.other_key, {}.get)
    return real.respond(body)


def _delegate(world, eku=True):
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP")]))
         .issuer_name(world.sign_ca.cert.subject).public_key(world.other_key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(testing.now() - dt.timedelta(days=1))
         .not_valid_after(testing.now() + dt.timedelta(days=30)))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    return b.sign(world.sign_ca.key, hashes.SHA256())


def test_delegated_responder(world):
    r = responder(world, responder_cert=_delegate(world), responder_key=world.other_key)
    a = ocsp.OCSPClient("x", transport=r.transport).check(world.sign_cert, world.sign_ca.cert)
    assert a.status == "good" and "OCSP" in a.responder


def test_delegated_responder_without_ocsp_signing_is_unauthorised(world):
    r = responder(world, responder_cert=_delegate(world, eku=False), responder_key=world.other_key)
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=r.transport).check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_unauthorised"


def test_tampered_response(world):
    r = responder(world)

    def tamper(url, body):
        data = bytearray(r.respond(body))
        data[-5] ^= 1  # inside the signature
        return bytes(data)
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=tamper).check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_bad_signature"


def test_response_for_another_certificate(world):
    other = testing.issue(world.sign_ca, world.sign_key.public_key(), facts=HOLDER)
    r = responder(world)
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=lambda u, b: r.respond(ocsp.build_request(other, world.sign_ca.cert, _nonce(b))))\
            .check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_wrong_certificate"


def _nonce(body: bytes) -> bytes:
    from cryptography.x509 import ocsp as xocsp
    return xocsp.load_der_ocsp_request(body).extensions.get_extension_for_class(x509.OCSPNonce).value.nonce


def test_unsuccessful_and_garbage(world):
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=lambda u, b: responder(world).respond(b"junk"))\
            .check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_unsuccessful"
    for junk in (b"", b"\x30\x03\x0a\x01\x00\x00", b"x" * 100, b"\x30" * 70000):
        with pytest.raises((MalformedInput, OCSPError)):
            ocsp.OCSPClient("x", transport=lambda u, b, j=junk: j).check(world.sign_cert, world.sign_ca.cert)


def test_unreachable_responder(world):
    def down(url, body):
        raise ConnectionRefusedError
    with pytest.raises(OCSPError) as exc:
        ocsp.OCSPClient("x", transport=down).check(world.sign_cert, world.sign_ca.cert)
    assert exc.value.code == "ocsp_unreachable"
    v = Validator(world.trust(), ocsp=ocsp.OCSPClient("x", transport=down))
    assert v.validate(world.sign_cert, "sign").verdict is Verdict.REVOCATION_UNKNOWN


def test_dev_ca_answers_ocsp_over_http(tmp_path):
    """helper-1's development CA, served over HTTP, answers good and revoked."""
    ca = DevCA.open(tmp_path)
    card = ca.issue_card(HOLDER)
    ca.revoke(card.sign_cert.serial_number, R.affiliation_changed)
    server, url = ocsp.serve(ocsp.DevResponder.for_dev_ca(ca, "sign"))
    try:
        client = ocsp.OCSPClient(url)
        a = client.check(card.sign_cert, ca.certificate("sign"))
        assert a.status == "revoked" and a.reason == "affiliationChanged"
        server2, url2 = ocsp.serve(ocsp.DevResponder.for_dev_ca(ca, "auth"))
        try:
            assert ocsp.OCSPClient(url2).check(card.auth_cert, ca.certificate("auth")).status == "good"
        finally:
            server2.shutdown()
    finally:
        server.shutdown()


def test_unknown_status_is_not_good(world):
    r = responder(world, known=lambda serial: False)
    client = ocsp.OCSPClient("x", transport=r.transport)
    assert client.check(world.sign_cert, world.sign_ca.cert).status == "unknown"
    res = Validator(world.trust(), ocsp=client).validate(world.sign_cert, "sign")
    assert res.verdict is Verdict.REVOCATION_UNKNOWN and "unknown" in res.log
