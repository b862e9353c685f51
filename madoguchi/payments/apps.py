from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """手数料の納付: payments of the fees of applications (docs/payments.md)."""

    name = "madoguchi.payments"
    label = "payments"

    def ready(self):
        from .providers import demo, stripe  # noqa: F401  (register the providers)
