from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    """申請: residents' applications, their one state machine, attachments and notices."""

    name = "madoguchi.applications"
    label = "applications"
