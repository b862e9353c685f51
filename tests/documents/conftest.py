import pytest

from madoguchi.applications.services import Upload, submit
from madoguchi.municipalities.tenancy import tenant
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import (  # noqa: F401  (fixtures)
    HANAKO, TARO, app_settings, catalog_a, dev_pki, hanako, pki, taro)
from tests.applications.conftest import version_of
from tests.applications.helpers import PNG, RISAI, key


@pytest.fixture(autouse=True)
def documents_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DOCUMENTS_DEVELOPMENT_CA_ALLOWED = True
    from madoguchi.documents import services

    services.forget_signers()
    return settings


def submit_risai(municipality, person, **changes):
    application, _ = submit(version_of(municipality, "risai-shoumei"), person, {**RISAI, **changes},
                            idempotency_key=key(), uploads=[Upload("photo.png", PNG)])
    return application


@pytest.fixture
def kikikanri_reviewer(muni_a):
    department = Department.unscoped.create(municipality=muni_a, code="kikikanri", name="危機管理課")
    user, _membership, device, _ = enrol_staff(muni_a, "rev-kikikanri", Membership.Role.REVIEWER, department,
                                              password="a-long-test-password")
    return user, device


@pytest.fixture
def other_reviewer(muni_a):
    department = Department.unscoped.create(municipality=muni_a, code="shimin", name="市民課")
    user, _membership, device, _ = enrol_staff(muni_a, "rev-shimin-docs", Membership.Role.REVIEWER, department,
                                              password="a-long-test-password")
    return user, device


@pytest.fixture
def in_muni(muni_a):
    with tenant(muni_a):
        yield muni_a
