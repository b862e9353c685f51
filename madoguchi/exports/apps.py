from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """基幹連携: exports of applications to the municipality's core systems."""

    name = "madoguchi.exports"
    label = "exports"
