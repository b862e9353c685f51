from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    """手続: declarative procedure definitions and their published versions."""

    name = "madoguchi.procedures"
    label = "procedures"
