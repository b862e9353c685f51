from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    """手続き: declarative procedure definitions and their published versions."""

    name = "madoguchi.procedures"
    label = "procedures"
