from django.apps import AppConfig


class NatAppConfig(AppConfig):
    """The national authentication app (デジタル認証アプリ) as a card path: madoguchi as its
    OpenID Connect relying party for login, identify and sign (docs/card_paths.md)."""

    name = "madoguchi.natapp"
    label = "natapp"

    def ready(self):
        from . import cardpath  # noqa: F401  (registers the `national-app` card path)
