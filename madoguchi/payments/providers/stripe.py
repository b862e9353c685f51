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

    def settlements(self, municipality, day, *, start, end):
        # The municipality's own account (STRIPE_ACCOUNTS), whatever tenant is in scope.
        return stripe_settlements(client(municipality.code), municipality, start=start, end=end)


def verify(payload: bytes, signature: str | None):
    """The webhook's event, its `Stripe-Signature` checked with the secret of the
    municipality in scope (raises stripe.SignatureVerificationError)."""
    secret = account()["webhook_secret"]
    if not secret:
        raise ImproperlyConfigured("the stripe webhook needs STRIPE_WEBHOOK_SECRET (MADOGUCHI_STRIPE_WEBHOOK_SECRET) "
                                   "or the municipality's STRIPE_ACCOUNTS entry")
    return stripe.Webhook.construct_event(payload, signature or "", secret)


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
