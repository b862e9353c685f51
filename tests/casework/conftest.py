"""The back office's fixtures: 窓口市 with its starter catalog, 市民課 (shimin: 住民票, 転出届,
戸籍) and 子育て支援課 (kosodate: 児童手当) staff of every role, signed-in clients."""

import pytest
from django.test import Client

from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import (  # noqa: F401  (fixtures)
    HANAKO, TARO, app_settings, catalog_a, dev_pki, hanako, pki, taro)
from tests.conftest import PASSWORD, sign_in


@pytest.fixture
def shimin(muni_a):
    return Department.unscoped.create(municipality=muni_a, code="shimin", name="市民課")


@pytest.fixture
def kosodate(muni_a):
    return Department.unscoped.create(municipality=muni_a, code="kosodate", name="子育て支援課")


class Staff:
    def __init__(self, municipality, username, role, department):
        self.municipality = municipality
        self.user, self.membership, self.device, _ = enrol_staff(municipality, username, role, department,
                                                                 password=PASSWORD)
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client()
            response = sign_in(self._client, self.municipality, self.user, self.device)
            assert response.status_code == 302, response.content.decode()[:500]
        return self._client


@pytest.fixture
def kikikanri(muni_a):
    return Department.unscoped.create(municipality=muni_a, code="kikikanri", name="危機管理課")


@pytest.fixture
def staff(muni_a, shimin, kosodate, kikikanri):
    """Every role of 市民課, and reviewers of 子育て支援課 and 危機管理課."""
    made = {}

    def get(name):
        if name not in made:
            role, department = {
                "reviewer": (Membership.Role.REVIEWER, shimin),
                "reviewer2": (Membership.Role.REVIEWER, shimin),
                "viewer": (Membership.Role.VIEWER, shimin),
                "admin": (Membership.Role.ADMINISTRATOR, shimin),
                "kosodate": (Membership.Role.REVIEWER, kosodate),
                "kikikanri": (Membership.Role.REVIEWER, kikikanri),
            }[name]
            made[name] = Staff(muni_a, f"cw-{name}", role, department)
        return made[name]

    return get
