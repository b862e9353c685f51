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
