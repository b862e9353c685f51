from django.apps import AppConfig


class MunicipalitiesConfig(AppConfig):
    """Municipalities are the tenants: every tenant-owned row points at one."""

    name = "madoguchi.municipalities"
    label = "municipalities"
