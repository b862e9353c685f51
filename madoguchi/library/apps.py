from django.apps import AppConfig


class LibraryConfig(AppConfig):
    """図書館カード: libraries of a municipality, each resident's patron number linked once
    through a pairwise pseudonym of the Person (it survives a card renewal), the library
    system's API and a SIP2 patron status listener. The `library` entry of the citizen card
    catalog (madoguchi.citizencard.catalog) points here."""

    name = "madoguchi.library"
    label = "library"
    verbose_name = "図書館カード"

    def ready(self):
        from . import services

        services.plug_in()
