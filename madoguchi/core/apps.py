from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting pieces: request ids, logging, health, error pages, dates, rate limits."""

    name = "madoguchi.core"
    label = "core"

    def ready(self):
        from . import health

        health.connect_signals()
