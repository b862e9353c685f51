from django.apps import AppConfig


class CeremoniesConfig(AppConfig):
    """The card ceremony: one protocol for every card use (login, identify, sign, presence)."""

    name = "madoguchi.ceremonies"
    label = "ceremonies"
