"""The catalog of card services: one registry, enabled per municipality, exported as JSON."""

import json

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.citizencard import services
from madoguchi.citizencard.base import SERVICES
from madoguchi.municipalities.tenancy import tenant


def test_registry_describes_each_service():
    assert {"library", "tickets", "attendance", "seal", "demo"} <= set(SERVICES.names())
    assert SERVICES.get("demo").demo is True
    assert "stand-in" in SERVICES.entry("demo").description
    tickets = SERVICES.get("tickets").as_json()
    assert tickets["needs_pin"] is False and tickets["offline"] is True
    json.dumps(tickets)  # machine-readable


def test_enable_per_municipality_with_audit(muni_a, muni_b, admin_a):
    with tenant(muni_a):
        assert services.set_enabled(admin_a[0], "library", True) is True
        assert services.set_enabled(admin_a[0], "library", True) is False  # idempotent
        assert [s.key for s in services.enabled_services()] == ["library"]
        exported = services.export()
        assert exported["municipality"] == muni_a.code
        assert {s["key"]: s["enabled"] for s in exported["services"]}["library"] is True
        json.dumps(exported)
        assert AuditEvent.objects.filter(action="citizencard.service_enabled").count() == 1
    with tenant(muni_b):
        assert services.enabled_services() == []
    with tenant(muni_a):
        assert services.set_enabled(admin_a[0], "library", False) is True
        assert services.enabled_services() == []
        assert AuditEvent.objects.filter(action="citizencard.service_disabled").count() == 1


def test_unknown_service_refused(muni_a, admin_a):
    with tenant(muni_a), pytest.raises(services.CitizenCardError):
        services.set_enabled(admin_a[0], "nope", True)


def test_http_staff_toggle_portal_list_and_json_export(muni_a, muni_b, admin_a):
    from django.test import Client

    from tests.conftest import sign_in

    staff = Client()
    sign_in(staff, muni_a, *admin_a)
    url = f"/{muni_a.code}/staff/card-services/"
    assert staff.get(url).status_code == 200
    bad = staff.post(url, {"key": "nope", "enabled": "1"})
    assert bad.status_code == 400 and "そのサービスはありません" in bad.content.decode()
    assert staff.post(url, {"key": "tickets", "enabled": "1"}).status_code == 302

    public = Client()
    page = public.get(f"/{muni_a.code}/card-services/").content.decode()
    assert "チケット" in page and "図書館カード" not in page
    data = public.get(f"/{muni_a.code}/card-services.json").json()
    assert {s["key"]: s["enabled"] for s in data["services"]} == {
        "attendance": False, "demo": False, "library": False, "seal": False, "tickets": True}
    other = public.get(f"/{muni_b.code}/card-services.json").json()
    assert not any(s["enabled"] for s in other["services"])
    # anonymous and residents cannot toggle
    assert public.post(url, {"key": "library", "enabled": "1"}).status_code in (302, 403)
    with tenant(muni_a):
        assert [s.key for s in services.enabled_services()] == ["tickets"]
