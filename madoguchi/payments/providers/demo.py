"""DEMO ONLY: a hosted payment page served by madoguchi itself (views.demo_page), for the
embedded install and the demo. Nothing is charged; refused where the demo is not allowed
(MADOGUCHI_ENV=production)."""

import os
import secrets

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from ..models import DemoCheckout, DemoRefund
from .base import PROVIDERS, Checkout, Provider, Settlement


def allowed() -> bool:
    return bool(settings.DEMO_ALLOWED) and os.environ.get("MADOGUCHI_ENV", "dev") != "production"


@PROVIDERS.register("demo", "DEMO ONLY: a hosted payment page served by madoguchi; charges nothing; refused in production")
class DemoProvider(Provider):
    def __init__(self):
        if not allowed():
            raise ImproperlyConfigured("the demo payment provider is refused in production")

    def checkout(self, payment, *, return_url: str) -> Checkout:
        reference = "demo_" + secrets.token_urlsafe(24)
        DemoCheckout.objects.create(municipality_id=payment.municipality_id, reference=reference,
                                    amount_yen=payment.amount_yen, return_url=return_url)
        url = reverse("payments:demo_page", args=[payment.municipality.code, reference])
        return Checkout(reference=reference, redirect_url=url)

    def fetch(self, payment) -> str:
        checkout = DemoCheckout.objects.filter(reference=payment.provider_reference).first()
        if checkout is None:
            return "failed"
        return {"open": "pending", "paid": "succeeded", "cancelled": "cancelled", "expired": "expired"}[checkout.state]

    def expire(self, payment) -> None:
        DemoCheckout.objects.filter(reference=payment.provider_reference, state=DemoCheckout.State.OPEN).update(
            state=DemoCheckout.State.EXPIRED)

    def refund(self, payment, amount_yen: int, *, idempotency_key: str) -> str:
        reference = "demo_refund_" + idempotency_key[-24:]  # the same key, the same refund
        DemoRefund.unscoped.get_or_create(
            municipality_id=payment.municipality_id, reference=reference,
            defaults={"checkout_reference": payment.provider_reference, "amount_yen": amount_yen})
        return reference

    def settlements(self, municipality, day, *, start, end):
        """The demo ledger's paid checkouts and refunds of the day; the demo charges no fee."""
        for reference, amount, at in (DemoCheckout.unscoped.filter(
                municipality=municipality, state=DemoCheckout.State.PAID, paid_at__gte=start, paid_at__lt=end)
                .values_list("reference", "amount_yen", "paid_at").iterator()):
            yield Settlement("charge", reference, amount, 0, "jpy", transaction=reference, settled_at=at)
        for reference, amount, at in (DemoRefund.unscoped.filter(
                municipality=municipality, created_at__gte=start, created_at__lt=end)
                .values_list("reference", "amount_yen", "created_at").iterator()):
            yield Settlement("refund", reference, amount, 0, "jpy", transaction=reference, settled_at=at)
