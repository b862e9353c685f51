"""Enabling card services for a municipality, listing them, exporting the catalog as JSON."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.registry import UnknownName

from . import catalog  # noqa: F401  (registers the shipped services)
from .base import SERVICES, CardService
from .models import EnabledService


class CitizenCardError(ValueError):
    def __init__(self, message: str, field: str = ""):
        self.message, self.field = message, field
        super().__init__(message)


def service(key: str) -> CardService:
    try:
        return SERVICES.get(key)
    except UnknownName:
        raise CitizenCardError(_("そのサービスはありません。"), "key") from None


def all_services() -> list[CardService]:
    return [entry.implementation for entry in SERVICES.entries()]


def enabled_keys() -> set[str]:
    return set(EnabledService.objects.values_list("key", flat=True))


def enabled_services() -> list[CardService]:
    keys = enabled_keys()
    return [s for s in all_services() if s.key in keys]


def set_enabled(user, key: str, enabled: bool) -> bool:
    """Turns one service on or off for the municipality in scope; True when it changed."""
    service(key)
    with transaction.atomic():
        if enabled:
            _, created = EnabledService.objects.get_or_create(municipality=current_municipality(), key=key)
            if created:
                record("citizencard.service_enabled", actor=user, obj=("citizencard.service", key), data={"key": key})
            return created
        deleted, _n = EnabledService.objects.filter(key=key).delete()
        if deleted:
            record("citizencard.service_disabled", actor=user, obj=("citizencard.service", key), data={"key": key})
        return bool(deleted)


def export() -> dict:
    """The catalog as JSON: every service with whether the municipality offers it."""
    keys = enabled_keys()
    return {
        "municipality": current_municipality().code,
        "services": [dict(s.as_json(), enabled=s.key in keys) for s in all_services()],
    }
