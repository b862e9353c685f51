from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only, hash-chained audit trail used by every other app."""

    name = "madoguchi.audit"
    label = "audit"
