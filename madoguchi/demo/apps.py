from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: fictional municipalities, staff, residents and virtual cards.

    The top of the house: it imports whichever apps it fills and nothing imports it.
    The `demo` command refuses the production profile (DEMO_ALLOWED).
    """

    name = "madoguchi.demo"
    label = "demo"
