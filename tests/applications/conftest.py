import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from madoguchi.identity.models import CardCredential, Person, ResidentLink
from madoguchi.identity.services import CertificateRef
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.services import install_catalog
from madoguchi.residents.models import ResidentRecord
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.ceremonies.conftest import HANAKO, TARO, dev_pki, pki  # noqa: F401  (fixtures)

TEST_KEY = "test1:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def app_settings(settings, tmp_path):
    settings.MYNUMBER_KEYS = TEST_KEY
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings


@pytest.fixture
def catalog_a(muni_a):
    install_catalog(muni_a)
    return muni_a


def version_of(municipality, slug):
    from madoguchi.procedures.models import Procedure

    with tenant(municipality):
        return Procedure.objects.get(slug=slug).current_version()


def make_person(facts, card=None):
    person = Person.objects.create(verified_name=facts.name, verified_birth_date=facts.birth,
                                   verified_sex=facts.sex, verified_address=facts.address,
                                   verified_at=dt.datetime.now(dt.timezone.utc))
    if card is not None:
        ref = CertificateRef.from_der(card.issued.sign_cert.public_bytes(serialization.Encoding.DER))
        CardCredential.objects.create(person=person, purpose="sign", certificate=ref.der, sha256=ref.sha256,
                                      issuer_key_id=ref.issuer_key_id, serial=ref.serial, not_after=ref.not_after)
    return person


def link(municipality, person, number, *, household="H1", head=True, support=False, birth=None, status="resident"):
    record = ResidentRecord.unscoped.create(
        municipality=municipality, resident_number=number, name=person.verified_name,
        birth_date=birth or person.verified_birth_date, sex=person.verified_sex, address=person.verified_address,
        household_id=household, is_household_head=head, support_measure=support, status=status)
    ResidentLink.unscoped.create(municipality=municipality, person=person, record=record, method="automatic")
    return record


@pytest.fixture
def taro(muni_a, pki):
    person = make_person(TARO, pki.taro)
    link(muni_a, person, "100001")
    return person


@pytest.fixture
def hanako(muni_a, pki):
    person = make_person(HANAKO, pki.hanako)
    link(muni_a, person, "100002", head=False)  # same household H1
    return person


@pytest.fixture
def reviewer_kosodate(muni_a):
    department = Department.unscoped.create(municipality=muni_a, code="kosodate", name="子育て支援課")
    user, *_ = enrol_staff(muni_a, "rev-kosodate", Membership.Role.REVIEWER, department, password="x" * 20)
    return user


@pytest.fixture
def reviewer_shimin(muni_a):
    department = Department.unscoped.create(municipality=muni_a, code="shimin", name="市民課")
    user, *_ = enrol_staff(muni_a, "rev-shimin", Membership.Role.REVIEWER, department, password="x" * 20)
    return user
