"""Shared fixtures: two municipalities (so isolation is always visible) and their staff."""

import pytest
from django_otp.oath import TOTP

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant
from madoguchi.staff.models import Department, Membership
from madoguchi.staff.services import enrol_staff

PASSWORD = "a-long-test-password"

# Strings that exist only in municipality A's private data: no response to anyone from
# municipality B, or to an anonymous visitor, may contain them.
A_SECRET_DEPARTMENT = "機密課ZQX"
A_SECRET_USERNAME = "a-secret-staffer-zqx"


def totp_now(device) -> str:
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    return f"{token:06d}"


@pytest.fixture
def muni_a(db):
    return Municipality.objects.create(code="139998", name="窓口市", name_kana="まどぐちし")


@pytest.fixture
def muni_b(db):
    return Municipality.objects.create(code="279994", name="見本町", name_kana="みほんちょう")


@pytest.fixture
def dept_a(muni_a):
    return Department.unscoped.create(municipality=muni_a, code="secret", name=A_SECRET_DEPARTMENT)


@pytest.fixture
def admin_a(muni_a, dept_a):
    user, membership, device, _ = enrol_staff(muni_a, A_SECRET_USERNAME, Membership.Role.ADMINISTRATOR, dept_a,
                                              password=PASSWORD)
    return user, device


@pytest.fixture
def viewer_a(muni_a):
    user, membership, device, _ = enrol_staff(muni_a, "viewer-a", Membership.Role.VIEWER, None, password=PASSWORD)
    return user, device


@pytest.fixture
def admin_b(muni_b):
    user, membership, device, _ = enrol_staff(muni_b, "admin-b", Membership.Role.ADMINISTRATOR, None,
                                              password=PASSWORD)
    return user, device


def sign_in(client, municipality, user, device, password=PASSWORD):
    return client.post(
        f"/{municipality.code}/staff/login/",
        {"username": user.username, "password": password, "otp_token": totp_now(device)},
    )


@pytest.fixture
def client_admin_a(client, muni_a, admin_a):
    response = sign_in(client, muni_a, *admin_a)
    assert response.status_code == 302, response.content.decode()[:500]
    return client


@pytest.fixture
def client_admin_b(client, muni_b, admin_b):
    response = sign_in(client, muni_b, *admin_b)
    assert response.status_code == 302, response.content.decode()[:500]
    return client


@pytest.fixture
def in_a(muni_a):
    with tenant(muni_a):
        yield muni_a


@pytest.fixture
def no_random_purges(monkeypatch):
    """One request in N also purges expired rows (rate counters: 1 in 1,000; used client
    assertions: 1 in 100) — a DELETE more. The query budgets count a request without it: a
    budget test failed about once in a hundred runs on it (CI, session 9)."""
    from types import SimpleNamespace

    from madoguchi.core import ratelimit
    from madoguchi.oidc import server

    never = SimpleNamespace(random=lambda: 1.0)
    monkeypatch.setattr(ratelimit, "random", never)
    monkeypatch.setattr(server, "random", never)
