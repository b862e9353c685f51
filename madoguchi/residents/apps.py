from django.apps import AppConfig


class ResidentsConfig(AppConfig):
    """住民記録: the municipality's resident records, as its core system holds them."""

    name = "madoguchi.residents"
    label = "residents"
