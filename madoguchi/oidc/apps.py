from django.apps import AppConfig


class OidcConfig(AppConfig):
    """The OpenID Connect provider on the card: each municipality is its own issuer."""

    name = "madoguchi.oidc"
    label = "oidc"
