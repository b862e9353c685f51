"""DEMO ONLY: a hosted payment page served by madoguchi itself (views.demo_page), for the
embedded install and the demo. Nothing is charged; refused where the demo is not allowed
(MADOGUCHI_ENV=production)."""

import os
import secrets

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from ..models import DemoCheckout
from .base import PROVIDERS, Checkout, Provider


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
        return "demo_refund_" + idempotency_key[-24:]  # the same key, the same refund
