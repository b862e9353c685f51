"""The certificate of a card key (the first 8 bytes of its SHA-256, what a terminal sends):
found by a range on the unique index; none for a malformed key, an unknown one, or — by a
64-bit collision — two certificates sharing it."""

import datetime as dt

import pytest

from madoguchi.identity.models import CardCredential, Person
from madoguchi.identity.services import certificate_for_card_key


def credential(person, sha256: str, der: bytes) -> CardCredential:
    return CardCredential.objects.create(person=person, purpose="auth", certificate=der, sha256=sha256,
                                         issuer_key_id="00", serial=der.hex(),
                                         not_after=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))


@pytest.mark.django_db
def test_a_card_key_finds_its_one_certificate():
    person = Person.objects.create(verified_name="窓口 太郎", verified_birth_date=dt.date(1980, 4, 1),
                                   verified_sex="1", verified_address="東京都窓口市本町一丁目1番1号",
                                   verified_at=dt.datetime.now(dt.timezone.utc))
    credential(person, "0123456789abcdef" + "0" * 48, b"first")
    credential(person, "0123456789abcdef" + "f" * 48, b"neighbour")  # the same first 8 bytes
    credential(person, "0123456789abcdf0" + "0" * 48, b"next")
    credential(person, "fedcba9876543210" + "a" * 48, b"alone")
    assert certificate_for_card_key("FEDCBA9876543210") == b"alone"  # case does not matter
    assert certificate_for_card_key("0123456789abcdf0") == b"next"
    assert certificate_for_card_key("0123456789abcdef") is None  # two certificates share it
    for bad in ("", "0123", "0123456789abcdeg", "0123456789abcdef0", "%" * 16, "0123456789abcde%"):
        assert certificate_for_card_key(bad) is None
    assert certificate_for_card_key("1111111111111111") is None
