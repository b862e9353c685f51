import pytest

from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import (  # noqa: F401  (fixtures)
    app_settings, catalog_a, dev_pki, hanako, pki, reviewer_kosodate, taro)

PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def exports_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DOCUMENTS_AUTOMATIC = False  # documents are tested in tests/documents
    return settings


def staff(municipality, username, role, department_code=None, name="課"):
    department = None
    if department_code:
        department = Department.unscoped.filter(municipality=municipality, code=department_code).first() or \
            Department.unscoped.create(municipality=municipality, code=department_code, name=name)
    user, membership, device, _ = enrol_staff(municipality, username, role, department, password=PASSWORD)
    return user, membership, device


@pytest.fixture
def kiki(muni_a):
    return staff(muni_a, "kiki-reviewer", Membership.Role.REVIEWER, "kikikanri", "危機管理課")


@pytest.fixture
def kiki2(muni_a, kiki):
    return staff(muni_a, "kiki-reviewer-2", Membership.Role.REVIEWER, "kikikanri")


@pytest.fixture
def shimin(muni_a):
    return staff(muni_a, "shimin-reviewer", Membership.Role.REVIEWER, "shimin", "市民課")
