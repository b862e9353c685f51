from django.apps import AppConfig


class IdentityConfig(AppConfig):
    """Persons, the card certificates linked to them, and their links to resident records."""

    name = "madoguchi.identity"
    label = "identity"
