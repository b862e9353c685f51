"""Hypothesis over every parser of issue 4: certificates, CRLs (and the entry scanner), OCSP
responses, CMS, the four facts. Random and mutated input must end in a typed answer — never
a crash, never a silent pass."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.pki import cms, crlindex, facts, ocsp, testing
from madoguchi.pki.errors import PKIError
from madoguchi.pki.validation import Verdict
from madoguchi.pki.verify import verify_detached
from tests.pki.conftest_validation import crl_der, der, card_signer, world  # noqa: F401

FUZZ = settings(max_examples=int(__import__("os").environ.get("PKI_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CONTENT = b"fuzzed content"


@st.composite
def mutated(draw, base: bytes):
    """`base` with a few bytes flipped, a slice cut, or bytes inserted."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[i:i + draw(st.integers(1, 16))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[i:]
    return bytes(data)


class Material(dict):
    def __repr__(self):  # keep Hypothesis's failure reports readable
        return "<material>"


@pytest.fixture(scope="module")
def material(world):
    crl = crl_der(testing.crl(world.sign_ca, [(5, testing.now(), x509.ReasonFlags.superseded),
                                                (2**100, testing.now(), None)]))
    sig = cms.sign_detached(CONTENT, der(world.sign_cert), card_signer(world.sign_key))
    resp = ocsp.DevResponder(world.sign_ca.cert, world.sign_ca.key, {}.get).respond(
        ocsp.build_request(world.sign_cert, world.sign_ca.cert, b"n" * 16))
    return Material(crl=crl, cms=sig, ocsp=resp, cert=der(world.sign_cert), validator=world.validator())


@FUZZ
@given(data=st.data())
def test_certificate_validation_never_crashes(material, data):
    blob = data.draw(st.one_of(st.binary(max_size=2000), mutated(material["cert"])))
    r = material["validator"].validate(blob, "sign")
    assert isinstance(r.verdict, Verdict)
    if blob != material["cert"]:
        assert r.verdict is not Verdict.VALID


@FUZZ
@given(data=st.data())
def test_crl_import_never_crashes(material, world, data):
    blob = data.draw(st.one_of(st.binary(max_size=2000), mutated(material["crl"])))
    try:
        idx = crlindex.CRLIndex.from_crl(blob, world.trust())
    except PKIError:
        return
    # Only an unmodified (or signature-preserving re-encoded) CRL may be accepted.
    assert idx.lookup(5) is not None


@FUZZ
@given(entries=st.binary(max_size=400))
def test_entry_scanner_bounds(entries):
    try:
        keys, offsets = crlindex.scan_entries(entries, 0, len(entries))
    except PKIError:
        return
    assert len(keys) == len(offsets)
    assert all(0 <= o < len(entries) for o in offsets)


@FUZZ
@given(serials=st.lists(st.integers(1, 2**159 - 1), max_size=40, unique=True))
def test_entry_scanner_agrees_with_cryptography(world, serials):
    der_ = testing.big_crl_der(world.sign_ca, serials)
    _, start, end = crlindex._split(der_)
    keys, offsets = crlindex.scan_entries(der_, start, end) if end else ([], [])
    assert list(keys) == [s & crlindex.MASK64 for s in x509.load_der_x509_crl(der_) for s in [s.serial_number]]
    assert [crlindex.decode_entry(der_, o).serial for o in offsets] == serials


@FUZZ
@given(data=st.data())
def test_ocsp_response_never_crashes(material, world, data):
    blob = data.draw(st.one_of(st.binary(max_size=2000), mutated(material["ocsp"])))
    try:
        a = ocsp.parse_response(blob, world.sign_cert, world.sign_ca.cert, b"n" * 16, dt.datetime.now(dt.timezone.utc))
    except PKIError:
        return
    assert a.status == "good"


@FUZZ
@given(data=st.data())
def test_cms_never_crashes_nor_passes_when_mutated(material, data):
    blob = data.draw(st.one_of(st.binary(max_size=3000), mutated(material["cms"])))
    try:
        rec = verify_detached(blob, CONTENT, material["validator"])
    except PKIError:
        return
    assert isinstance(rec.verdict, Verdict)
    if rec.verdict is Verdict.VALID:
        # Mutations the signature does not cover (e.g. unsigned fields) may pass; the signed
        # attributes and the signer must be exactly the original ones.
        assert rec.signer_sha256 is not None and rec.content_sha256


@FUZZ
@given(content=st.binary(max_size=200))
def test_cms_other_content_never_valid(material, content):
    if content == CONTENT:
        return
    assert verify_detached(material["cms"], content, material["validator"]).verdict is Verdict.BAD_SIGNATURE


@FUZZ
@given(values=st.lists(st.tuples(st.sampled_from(list(facts.OIDS)), st.binary(max_size=40)), max_size=8))
def test_facts_never_crash(world, values):
    entries = [x509.OtherName(x509.ObjectIdentifier(oid), value) for oid, value in values]
    try:
        cert = testing.issue(world.sign_ca, world.sign_key.public_key(),
                             extra=[(x509.SubjectAlternativeName(entries), False)] if entries else [])
    except ValueError:
        return  # cryptography refuses to build some of these; nothing to parse
    try:
        f = facts.from_certificate(cert)
    except PKIError:
        return
    assert f is None or isinstance(f.name, str)


@FUZZ
@given(data=st.data())
def test_anchor_files_never_crash(world, data):
    from madoguchi.pki import trust
    pem = world.sign_ca.pem
    blob = data.draw(st.one_of(st.binary(max_size=1500), mutated(pem), mutated(der(world.sign_ca.cert))))
    try:
        certs = trust.load_certificates(blob)
        for c in certs:
            trust.check_anchor(c)
    except PKIError:
        return
    except ValueError:
        pytest.fail("untyped ValueError escaped")
