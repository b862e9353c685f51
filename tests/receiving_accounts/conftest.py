import pytest

from madoguchi.identity.models import ResidentLink
from madoguchi.residents.models import ResidentRecord
from tests.applications.conftest import make_person
from tests.ceremonies.conftest import HANAKO, TARO, dev_pki, pki  # noqa: F401  (fixtures)


def link(municipality, person, number, kana, *, status="resident"):
    record = ResidentRecord.unscoped.create(
        municipality=municipality, resident_number=number, name=person.verified_name, name_kana=kana,
        birth_date=person.verified_birth_date, sex=person.verified_sex, address=person.verified_address,
        household_id="H1", status=status)
    ResidentLink.unscoped.create(municipality=municipality, person=person, record=record, method="automatic")
    return record


@pytest.fixture
def taro(muni_a, pki):
    person = make_person(TARO, pki.taro)
    link(muni_a, person, "100001", "まどぐち たろう")
    return person


@pytest.fixture
def hanako(muni_a, pki):
    person = make_person(HANAKO, pki.hanako)
    link(muni_a, person, "100002", "みほん はなこ")
    return person
