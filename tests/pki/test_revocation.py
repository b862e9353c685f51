"""CRL import, the revoked-serial index, persistence and atomic replacement."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from madoguchi.pki import crlindex, testing, trust
from madoguchi.pki.errors import CRLRejected, MalformedInput, UnsupportedAlgorithm
from madoguchi.pki.validation import Validator, Verdict
from tests.pki.conftest_validation import crl_der, world  # noqa: F401

R = x509.ReasonFlags


def _index(world, revoked=(), ca=None, **kw) -> crlindex.CRLIndex:
    ca = ca or world.sign_ca
    return crlindex.CRLIndex.from_crl(crl_der(testing.crl(ca, revoked, **kw)), world.trust())


def test_lookup_hit_decodes_reason_and_date(world):
    when = testing.now() - dt.timedelta(days=2)
    idx = _index(world, [(11, when, R.affiliation_changed), (2**158 + 5, when, None), (12, when, R.superseded)])
    assert len(idx) == 3
    e = idx.lookup(11)
    assert e.serial == 11 and e.reason == "affiliationChanged" and e.revoked_at == when
    assert idx.lookup(2**158 + 5).reason is None
    assert idx.lookup(12).reason == "superseded"
    assert idx.lookup(13) is None and idx.lookup(2**158 + 6) is None
    assert idx.info.number == 1 and idx.info.entries == 3


def test_pem_and_der_give_the_same_index(world):
    c = testing.crl(world.sign_ca, [(99, testing.now(), R.key_compromise)])
    a = crlindex.CRLIndex.from_crl(c.public_bytes(serialization.Encoding.PEM), world.trust())
    b = crlindex.CRLIndex.from_crl(c.public_bytes(serialization.Encoding.DER), world.trust())
    assert a.info.sha256 == b.info.sha256 and a.lookup(99) == b.lookup(99)


def test_low_64_bit_collision_never_confuses_serials(world):
    revoked = (7 << 64) | 12345
    twin = (9 << 64) | 12345  # same low 64 bits, not revoked
    idx = _index(world, [(revoked, testing.now(), R.key_compromise)])
    assert idx.lookup(revoked) is not None
    assert idx.lookup(twin) is None
    both = _index(world, [(revoked, testing.now(), R.key_compromise), (twin, testing.now(), R.superseded)])
    assert both.lookup(revoked).reason == "keyCompromise" and both.lookup(twin).reason == "superseded"
    assert both.lookup((3 << 64) | 12345) is None


def test_big_crl_builder_matches_cryptography(world):
    serials = [random.getrandbits(150) + 1 for _ in range(5000)]
    der = testing.big_crl_der(world.sign_ca, serials, reason=3)
    parsed = x509.load_der_x509_crl(der)
    assert parsed.is_signature_valid(world.sign_ca.cert.public_key())
    assert [r.serial_number for r in parsed] == serials
    idx = crlindex.CRLIndex.from_crl(der, world.trust())
    assert len(idx) == 5000
    assert all(idx.lookup(s).reason == "affiliationChanged" for s in serials[:200])


def test_crl_signed_by_someone_else(world):
    forged = testing.crl(world.sign_ca, [(1, testing.now(), None)], signer=world.other_key)
    with pytest.raises(CRLRejected) as exc:
        crlindex.CRLIndex.from_crl(crl_der(forged), world.trust())
    assert exc.value.code == "crl_untrusted"


def test_crl_of_an_unknown_ca(world):
    stranger = testing.make_ca("sign", ca_key=world.other_key)
    with pytest.raises(CRLRejected):
        crlindex.CRLIndex.from_crl(crl_der(testing.crl(stranger)), world.trust())


def test_expired_crl(world):
    old = testing.crl(world.sign_ca, this_update=testing.now() - dt.timedelta(days=3),
                      next_update=testing.now() - dt.timedelta(days=2))
    with pytest.raises(CRLRejected) as exc:
        crlindex.CRLIndex.from_crl(crl_der(old), world.trust())
    assert exc.value.code == "crl_expired"
    assert crlindex.CRLIndex.from_crl(crl_der(old), world.trust(), allow_expired=True).info.entries == 0


def test_crl_from_the_future(world):
    c = testing.crl(world.sign_ca, this_update=testing.now() + dt.timedelta(hours=2))
    with pytest.raises(CRLRejected) as exc:
        crlindex.CRLIndex.from_crl(crl_der(c), world.trust())
    assert exc.value.code == "crl_not_yet_valid"


def test_unknown_critical_crl_extension(world):
    delta = x509.DeltaCRLIndicator(1)
    with pytest.raises(CRLRejected):
        crlindex.CRLIndex.from_crl(crl_der(testing.crl(world.sign_ca, extra=[(delta, True)])), world.trust())


def test_unexpected_crl_signature_algorithm(world):
    b = (x509.CertificateRevocationListBuilder().issuer_name(world.sign_ca.cert.subject)
         .last_update(testing.now()).next_update(testing.now() + dt.timedelta(days=1)))
    c = b.sign(world.sign_ca.key, hashes.SHA224())
    with pytest.raises(UnsupportedAlgorithm):
        crlindex.CRLIndex.from_crl(crl_der(c), world.trust())


@pytest.mark.parametrize("mangle", [
    lambda d: d[:-1], lambda d: d[: len(d) // 2], lambda d: d + b"\x00", lambda d: b"",
    lambda d: b"\x30\x84\xff\xff\xff\xff", lambda d: b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----\n",
    lambda d: b"-----BEGIN X509 CRL-----\n", lambda d: b"\x31" + d[1:],
])
def test_malformed_crl(world, mangle):
    good = crl_der(testing.crl(world.sign_ca, [(5, testing.now(), R.superseded)]))
    with pytest.raises((MalformedInput, CRLRejected)):
        crlindex.CRLIndex.from_crl(mangle(good), world.trust())


def test_oversized_crl(world, monkeypatch):
    monkeypatch.setattr(crlindex, "MAX_CRL_BYTES", 100)
    with pytest.raises(MalformedInput, match="too large"):
        crlindex.CRLIndex.from_crl(crl_der(testing.crl(world.sign_ca)), world.trust())


def test_malformed_entry_in_a_signed_crl(world):
    """A CA-signed CRL whose entry list is broken is refused, not half-indexed."""
    from madoguchi.pki.testing import _tlv
    der = testing.big_crl_der(world.sign_ca, [1, 2, 3])
    tbs_raw, start, end = crlindex._split(der)
    with pytest.raises(MalformedInput):
        crlindex.scan_entries(der[:start] + b"\x04" + der[start + 1:], start, end)
    with pytest.raises(MalformedInput):
        crlindex.scan_entries(_tlv(0x30, b"\x30\x03\x04\x01\x01"), 2, 7)


def test_persistence_and_restart(world, tmp_path):
    store = crlindex.RevocationStore(tmp_path)
    serials = [random.getrandbits(159) for _ in range(300)]
    store.import_crl(testing.big_crl_der(world.sign_ca, serials, reason=1, number=4), world.trust())
    again = crlindex.RevocationStore.open(tmp_path)
    idx = again.get(trust.key_identifier(world.sign_ca.cert))
    assert idx.info.number == 4 and len(idx) == 300
    assert idx.lookup(serials[17]).reason == "keyCompromise" and idx.lookup(serials[17] + 1) is None
    v = Validator(world.trust(), again)
    assert v.validate(world.sign_cert, "sign").verdict is Verdict.VALID


def test_corrupt_index_file(world, tmp_path):
    store = crlindex.RevocationStore(tmp_path)
    store.import_crl(crl_der(testing.crl(world.sign_ca, [(5, testing.now(), None)])), world.trust())
    path = next(tmp_path.glob("*.idx"))
    data = bytearray(path.read_bytes())
    data[-40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MalformedInput):
        crlindex.RevocationStore.open(tmp_path)
    path.write_bytes(b"garbage")
    with pytest.raises(MalformedInput):
        crlindex.RevocationStore.open(tmp_path)


def test_older_crl_does_not_replace_newer(world):
    store = crlindex.RevocationStore()
    store.import_crl(crl_der(testing.crl(world.sign_ca, number=5)), world.trust())
    with pytest.raises(CRLRejected) as exc:
        store.import_crl(crl_der(testing.crl(world.sign_ca, number=4)), world.trust())
    assert exc.value.code == "crl_older"


def test_atomic_replacement_while_lookups_continue(world, tmp_path):
    store = crlindex.RevocationStore(tmp_path)
    ts = world.trust()
    key_id = trust.key_identifier(world.sign_ca.cert)
    first = list(range(1, 20001))
    second = list(range(10001, 30001))
    store.import_crl(testing.big_crl_der(world.sign_ca, first, number=1), ts)
    new_der = testing.big_crl_der(world.sign_ca, second, number=2)
    errors, seen = [], set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            idx = store.get(key_id)  # one consistent snapshot per lookup batch
            try:
                a, b = idx.lookup(5) is not None, idx.lookup(25000) is not None
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
                return
            seen.add((idx.info.number, a, b))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    store.import_crl(new_der, ts)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert seen <= {(1, True, False), (2, False, True)}  # old or new, never a mixture
    assert store.get(key_id).info.number == 2
    assert crlindex.RevocationStore.open(tmp_path).get(key_id).info.number == 2
    assert not list(tmp_path.glob(".*.tmp"))


def test_refresh_picks_up_an_import_by_another_process(world, tmp_path):
    server = crlindex.RevocationStore.open(tmp_path)
    assert server.refresh() == 0
    cli = crlindex.RevocationStore.open(tmp_path)  # e.g. `madoguchi pki crl import` in a shell
    cli.import_crl(crl_der(testing.crl(world.sign_ca, [(world.sign_cert.serial_number, testing.now(),
                                                         R.affiliation_changed)])), world.trust())
    v = Validator(world.trust(), server)
    assert v.validate(world.sign_cert, "sign").verdict is Verdict.REVOCATION_UNKNOWN
    assert server.refresh() == 1
    assert v.validate(world.sign_cert, "sign").verdict is Verdict.REVOKED
    assert server.refresh() == 0


def test_listed_serial_is_revoked_even_with_a_future_date(world):
    """A CA clock ahead of ours must not let a listed certificate through."""
    ahead = testing.now() + dt.timedelta(minutes=3)
    v = world.validator(revoked_sign=[(world.sign_cert.serial_number, ahead, R.key_compromise)])
    assert v.validate(world.sign_cert, "sign").verdict is Verdict.REVOKED


def test_a_saved_index_and_one_of_the_first_format_answer_alike(world, tmp_path):
    """The index keeps its keys sorted (bisection, shared mapped pages); a file of the first
    format (MDGCRLX1: keys in the CRL's order) is still read."""
    import json
    from dataclasses import asdict

    serials = [random.getrandbits(120) + 1 for _ in range(3000)] + [(5 << 64) | 77, (6 << 64) | 77]
    der = testing.big_crl_der(world.sign_ca, serials, reason=1)
    built = crlindex.CRLIndex.from_crl(der, world.trust())
    assert list(built.serial_keys()) == sorted(s & crlindex.MASK64 for s in serials)
    saved = crlindex.CRLIndex.load(built.save(tmp_path / "new.idx"))
    assert (tmp_path / "new.idx").read_bytes()[:8] == crlindex.MAGIC

    # The first format, as the earlier code wrote it: the keys in the scan's order, then the CRL.
    _tbs, start, end = crlindex._split(der)
    keys, offsets = crlindex.scan_entries(der, start, end)
    header = json.dumps(asdict(built.info), sort_keys=True).encode()
    pad = (-(8 + 4 + len(header))) % 8
    (tmp_path / "old.idx").write_bytes(crlindex.MAGIC_CRL_ORDER + len(header).to_bytes(4, "little") + header
                                      + b"\0" * pad + keys.tobytes() + offsets.tobytes() + der)
    old = crlindex.CRLIndex.load(tmp_path / "old.idx")
    assert list(keys) != sorted(keys) and len(old) == len(serials)
    misses = [random.getrandbits(120) + 1 for _ in range(300)] + [(7 << 64) | 77]
    for idx in (built, saved, old):
        assert all(idx.lookup(s).reason == "keyCompromise" for s in serials)
        assert not any(idx.lookup(s) for s in misses if s not in serials)
