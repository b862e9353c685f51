import datetime as dt

import pytest

from madoguchi.applications.services import submit
from madoguchi.core.dates import today_in_japan
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import (  # noqa: F401  (fixtures)
    app_settings, catalog_a, hanako, taro, version_of,
)
from tests.applications.helpers import SODAI, key
from tests.ceremonies.conftest import dev_pki, pki  # noqa: F401  (fixtures)


def sodai(**changes):
    return {**SODAI, "collection_date": (today_in_japan() + dt.timedelta(days=7)).isoformat(), **changes}


def submit_sodai(municipality, person, **changes):
    """An application waiting for its fee: 粗大ごみ, 1 small item (400円) and 1 large (1,200円)."""
    application, _created = submit(version_of(municipality, "sodai-gomi"), person, sodai(**changes),
                                   idempotency_key=key())
    assert application.status == "payment_required"
    return application


@pytest.fixture
def owed(catalog_a, taro):
    return submit_sodai(catalog_a, taro)


@pytest.fixture
def cashier(muni_a):
    """A reviewer of the owning department (環境課, kankyo) who is its cashier (会計担当): records
    窓口払い and refunds."""
    department = Department.unscoped.create(municipality=muni_a, code="kankyo", name="環境課")
    user, _membership, device, _ = enrol_staff(muni_a, "rev-kankyo", Membership.Role.REVIEWER, department,
                                               password="a-long-test-password", cashier=True)
    return user, device


@pytest.fixture
def plain_reviewer(muni_a, cashier):
    """A reviewer of the owning department without the cashier flag."""
    department = Department.unscoped.get(municipality=muni_a, code="kankyo")
    user, _membership, device, _ = enrol_staff(muni_a, "rev-kankyo-2", Membership.Role.REVIEWER, department,
                                               password="a-long-test-password")
    return user, device


@pytest.fixture
def other_reviewer(muni_a):
    department = Department.unscoped.create(municipality=muni_a, code="shimin", name="市民課")
    user, _membership, device, _ = enrol_staff(muni_a, "rev-shimin", Membership.Role.REVIEWER, department,
                                               password="a-long-test-password")
    return user, device
