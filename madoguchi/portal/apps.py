from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The resident portal (mobile-first): the municipality's top page and its entry points."""

    name = "madoguchi.portal"
    label = "portal"
