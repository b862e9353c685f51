from django.apps import AppConfig


class ReceivingAccountsConfig(AppConfig):
    """公金受取口座: accounts registered by residents with the card, or imported from the
    national registry's extract (docs/receiving_accounts.md)."""

    name = "madoguchi.receiving_accounts"
    label = "receiving_accounts"

    def ready(self):
        from .adapters import csv_file  # noqa: F401  (register the built-in sources)
