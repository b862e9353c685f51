"""The basic four facts from a signature certificate: typed, exact, substitutes surfaced."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import core as acore
from cryptography import x509

from madoguchi.pki import facts, profile, testing
from madoguchi.pki.errors import MalformedInput
from tests.pki.conftest_validation import HOLDER, world  # noqa: F401


def _cert_with_san(world, entries):
    return testing.issue(world.sign_ca, world.sign_key.public_key(),
                         extra=[(x509.SubjectAlternativeName(entries), False)])


def test_facts_of_a_signature_certificate(world):
    f = facts.from_certificate(world.sign_cert)
    assert (f.name, f.address, f.birth, f.sex) == (HOLDER.name, HOLDER.address, HOLDER.birth, HOLDER.sex)
    assert f.birth_raw == "419900102"
    assert f.sex_label == ("女", "female")
    assert not f.has_substitutes
    assert f.as_dict()["birth"] == "1990-01-02"


def test_names_kept_exactly_with_ivs_and_substitutes(world):
    # 髙 (hashigo-daka) is outside JIS X 0208; 葛 + VS17 (U+E0100) is an IVS; half/full width kept.
    name = "髙橋\u3000葛\U000E0100子"
    holder = profile.BasicFour(name=name, address="大阪府大阪市北区１－２", birth=dt.date(1950, 3, 4), sex="1")
    cert = testing.issue(world.sign_ca, world.sign_key.public_key(), facts=holder)
    f = facts.from_certificate(cert)
    assert f.name == name  # byte-exact: no NFC/NFKC, the selector survives
    assert f.name.encode() == name.encode()
    assert f.address == "大阪府大阪市北区１－２"
    assert f.has_substitutes
    assert f.name_substitute.startswith("〓橋")
    assert f.birth == dt.date(1950, 3, 4) and f.birth_raw.startswith("3")


def test_auth_certificate_has_no_facts(world):
    assert facts.from_certificate(world.auth_cert) is None


def test_missing_fact_is_malformed(world):
    cert = _cert_with_san(world, [profile.other_name(profile.OID_NAME, "窓口花子")])
    with pytest.raises(MalformedInput, match="lacks"):
        facts.from_certificate(cert)


def test_duplicate_fact_is_malformed(world):
    entries = list(profile.san_for(HOLDER)) + [profile.other_name(profile.OID_NAME, "別人")]
    with pytest.raises(MalformedInput, match="twice"):
        facts.from_certificate(_cert_with_san(world, entries))


def test_non_string_value_is_malformed(world):
    entries = [e for e in profile.san_for(HOLDER) if e.type_id != profile.OID_NAME]
    entries.append(x509.OtherName(profile.OID_NAME, acore.Integer(5).dump()))
    with pytest.raises(MalformedInput):
        facts.from_certificate(_cert_with_san(world, entries))


def test_unreadable_birth_kept_raw(world):
    entries = [e for e in profile.san_for(HOLDER) if e.type_id != profile.OID_BIRTH]
    entries.append(profile.other_name(profile.OID_BIRTH, "4199013XX"))
    f = facts.from_certificate(_cert_with_san(world, entries))
    assert f.birth is None and f.birth_raw == "4199013XX"
