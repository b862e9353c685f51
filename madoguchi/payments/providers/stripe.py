"""Stripe through its maintained library (`stripe`): Checkout Sessions for the hosted page,
the session retrieved to confirm a result, refunds on the session's PaymentIntent, and
webhooks verified with `Stripe-Signature` (services.stripe_webhook).

`STRIPE_API_KEY` and `STRIPE_WEBHOOK_SECRET` are the account's; `STRIPE_API_BASE` changes
the API's address (a proxy; the tests' local server). Missing keys refuse the provider.
"""

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import PROVIDERS, Checkout, Provider

# A Checkout Session's state as our statuses (docs: checkout.session `status`, `payment_status`).
_EXPIRED = "expired"


def client() -> stripe.StripeClient:
    if not settings.STRIPE_API_KEY:
        raise ImproperlyConfigured("the stripe payment provider needs STRIPE_API_KEY (MADOGUCHI_STRIPE_API_KEY)")
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses=base, max_network_retries=0,
                               http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS))


@PROVIDERS.register("stripe", "Stripe Checkout Sessions and refunds through the stripe package; signed webhooks")
class StripeProvider(Provider):
    def __init__(self):
        self.client = client()

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

    def refund(self, payment, amount_yen: int) -> str:
        session = self.client.v1.checkout.sessions.retrieve(payment.provider_reference)
        refund = self.client.v1.refunds.create(
            params={"payment_intent": session.payment_intent, "amount": amount_yen},
            options={"idempotency_key": f"refund-{payment.idempotency_key}-{payment.refunded_yen}-{amount_yen}"})
        return refund.id

    def settlements(self, municipality, day, *, start, end):
        return stripe_settlements(self.client, municipality, start=start, end=end)


def verify(payload: bytes, signature: str | None):
    """The webhook's event, its `Stripe-Signature` checked (raises stripe.SignatureVerificationError)."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise ImproperlyConfigured("the stripe webhook needs STRIPE_WEBHOOK_SECRET (MADOGUCHI_STRIPE_WEBHOOK_SECRET)")
    return stripe.Webhook.construct_event(payload, signature or "", settings.STRIPE_WEBHOOK_SECRET)


# --- Reconciliation (収納消込): the balance-transaction list --------------------------------
# Balance transactions (GET /v1/balance_transactions, newest first, `created[gte]`/`[lt]`,
# pages of `limit` with `starting_after` while `has_more`) are what entered or left the
# balance: `type` charge/payment (a card payment, `source` the Charge) and refund/
# payment_refund (`source` the Refund); `amount` is signed, `fee` is Stripe's. The source,
# expanded, names the PaymentIntent; the Checkout Session of that PaymentIntent (listed by
# `created`, or looked up by `payment_intent`) is our payment's reference and its metadata
# the municipality. Other types (payouts, Stripe's own fees, adjustments) are not payments.
CHARGE_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})
SESSION_LOOKBACK_SECONDS = 2 * 86400  # a session lives at most 24 hours before it is paid


def _id(value):
    return value if isinstance(value, str) or value is None else getattr(value, "id", None)


def _municipality_of(session):
    metadata = session.metadata.to_dict() if getattr(session, "metadata", None) else {}
    return metadata.get("municipality")


def stripe_settlements(client, municipality, *, start, end):
    import datetime as dt

    from .base import Settlement

    gte, lt = int(start.timestamp()), int(end.timestamp())
    transactions = []
    for txn in client.v1.balance_transactions.list(params={
            "created": {"gte": gte, "lt": lt}, "limit": 100, "expand": ["data.source"]}).auto_paging_iter():
        if txn.type in CHARGE_TYPES or txn.type in REFUND_TYPES:
            transactions.append(txn)
    # The sessions that may have been paid in the window: PaymentIntent → (session, municipality).
    sessions = {}
    for session in client.v1.checkout.sessions.list(params={
            "created": {"gte": gte - SESSION_LOOKBACK_SECONDS, "lt": lt}, "limit": 100}).auto_paging_iter():
        if session.payment_intent:
            sessions[_id(session.payment_intent)] = (session.id, _municipality_of(session))
    for txn in transactions:
        source = txn.source if not isinstance(txn.source, str) else None
        intent = _id(getattr(source, "payment_intent", None)) if source is not None else None
        if intent and intent not in sessions:
            found = client.v1.checkout.sessions.list(params={"payment_intent": intent, "limit": 1}).data
            sessions[intent] = (found[0].id, _municipality_of(found[0])) if found else (None, None)
        session_id, code = sessions.get(intent, (None, None))
        if code is not None and code != municipality.code:
            continue  # another municipality's payment on the same account
        at = dt.datetime.fromtimestamp(txn.created, dt.UTC)
        if txn.type in CHARGE_TYPES:
            reference = session_id or intent or _id(txn.source) or txn.id
            yield Settlement("charge", reference, abs(txn.amount), txn.fee, txn.currency, transaction=txn.id,
                             settled_at=at)
        else:
            yield Settlement("refund", _id(txn.source) or txn.id, abs(txn.amount), txn.fee, txn.currency,
                             transaction=txn.id, settled_at=at)
