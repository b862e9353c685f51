"""Stripe through its maintained library (`stripe`): Checkout Sessions for the hosted page,
the session retrieved to confirm a result, refunds on the session's PaymentIntent, and
webhooks verified with `Stripe-Signature` (services.stripe_webhook).

`STRIPE_API_KEY` and `STRIPE_WEBHOOK_SECRET` are the account's; `STRIPE_API_BASE` changes
the API's address (a proxy; the tests' local server). Missing keys refuse the provider.
"""

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import PROVIDERS, Checkout, Provider, RefundRefused

# A Checkout Session's state as our statuses (docs: checkout.session `status`, `payment_status`).
_EXPIRED = "expired"


def account(code: str | None = None) -> dict[str, str]:
    """The Stripe account of the municipality (STRIPE_ACCOUNTS by its code), or else the
    installation's (STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET). `code`: the municipality in scope."""
    if code is None:
        from madoguchi.municipalities.tenancy import current_municipality

        municipality = current_municipality()
        code = municipality.code if municipality is not None else None
    own = getattr(settings, "STRIPE_ACCOUNTS", {}).get(code) if code else None
    if own:
        return {"api_key": own.get("api_key", ""), "webhook_secret": own.get("webhook_secret", "")}
    return {"api_key": settings.STRIPE_API_KEY, "webhook_secret": settings.STRIPE_WEBHOOK_SECRET}


def client(code: str | None = None) -> stripe.StripeClient:
    api_key = account(code)["api_key"]
    if not api_key:
        raise ImproperlyConfigured("the stripe payment provider needs STRIPE_API_KEY (MADOGUCHI_STRIPE_API_KEY) "
                                   "or the municipality's STRIPE_ACCOUNTS entry")
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(api_key, base_addresses=base, max_network_retries=0,
                               http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS))


@PROVIDERS.register("stripe", "Stripe Checkout Sessions and refunds through the stripe package; signed webhooks")
class StripeProvider(Provider):
    def __init__(self):
        self.client = client()
        self.form_action_origins = (settings.STRIPE_CHECKOUT_ORIGIN,)

    def checkout(self, payment, *, return_url: str) -> Checkout:
        application = payment.application
        session = self.client.v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": return_url, "cancel_url": return_url,
            "client_reference_id": str(payment.public_id),
            "metadata": {"payment": str(payment.public_id), "municipality": payment.municipality.code},
            "line_items": [{"quantity": 1, "price_data": {
                "currency": "jpy", "unit_amount": payment.amount_yen,
                "product_data": {"name": f"手数料 {application.receipt_number}"}}}],
        }, options={"idempotency_key": f"checkout-{payment.idempotency_key}"})
        return Checkout(reference=session.id, redirect_url=session.url)

    def fetch(self, payment) -> str:
        session = self.client.v1.checkout.sessions.retrieve(payment.provider_reference)
        if session.payment_status in ("paid", "no_payment_required"):
            if session.amount_total != payment.amount_yen or session.currency != "jpy":
                return "failed"  # not what was asked for: never counted as paid
            return "succeeded"
        if session.status == _EXPIRED:
            return "expired"
        return "pending"

    def refund(self, payment, amount_yen: int, *, idempotency_key: str) -> str:
        session = self.client.v1.checkout.sessions.retrieve(payment.provider_reference)
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": session.payment_intent, "amount": amount_yen},
                options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as exc:  # a 4xx: Stripe did not refund and will not
            raise RefundRefused(str(exc.user_message or exc)[:200]) from exc
        return refund.id

    def expire(self, payment) -> None:
        try:
            self.client.v1.checkout.sessions.expire(payment.provider_reference)
        except stripe.InvalidRequestError:
            pass  # complete or expired already: fetch says which


def verify(payload: bytes, signature: str | None):
    """The webhook's event, its `Stripe-Signature` checked with the secret of the
    municipality in scope (raises stripe.SignatureVerificationError)."""
    secret = account()["webhook_secret"]
    if not secret:
        raise ImproperlyConfigured("the stripe webhook needs STRIPE_WEBHOOK_SECRET (MADOGUCHI_STRIPE_WEBHOOK_SECRET) "
                                   "or the municipality's STRIPE_ACCOUNTS entry")
    return stripe.Webhook.construct_event(payload, signature or "", secret)
