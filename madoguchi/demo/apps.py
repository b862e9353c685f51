from django.apps import AppConfig
from django.conf import settings


class DemoConfig(AppConfig):
    """The demo: fictional municipalities, staff, residents and virtual cards.

    The top of the house: it imports whichever apps it fills and nothing imports it.
    The `demo` command refuses the production profile (DEMO_ALLOWED), and the demo's
    plug-ins are registered only where the demo is allowed.
    """

    name = "madoguchi.demo"
    label = "demo"

    def ready(self):
        if not getattr(settings, "DEMO_ALLOWED", False):
            return
        from madoguchi.residents.adapters.base import SOURCES

        from .services import DemoRecordSource

        if "demo" not in SOURCES:
            SOURCES.register("demo", "demo: the fictional residents of 窓口市 (no delivery is read)")(DemoRecordSource)
