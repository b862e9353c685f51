"""Payments: start one with the municipality's provider, confirm its result with the
provider, record 窓口払い, refund. Every change appends a PaymentEvent and an audit event in
the transaction that makes it; a payment's success moves its application from 支払い待ち to
受付 (applications.services.payment_received) in that same transaction.
"""

import logging
import re
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications import services as applications
from madoguchi.audit.services import record
from madoguchi.municipalities.tenancy import tenant
from madoguchi.staff.services import is_cashier

from .models import ENDED_UNPAID, PAID, Method, Payment, PaymentEvent, Refund, Status
from .providers import base as providers

log = logging.getLogger(__name__)
COUNTER = "counter"  # the provider name of 窓口払い
PAYMENT_REQUIRED = "payment_required"
_TILL_RECEIPT = re.compile(r"[0-9A-Za-z\-]{1,40}")


class PaymentError(Exception):
    """A refusal the caller shows: `field` names the input at fault (a 400), else a state (409)."""

    def __init__(self, code: str, message: str, *, status: int = 409, field: str | None = None):
        self.code, self.status, self.field = code, status, field
        super().__init__(message)


def _require_cashier(municipality, user) -> None:
    """窓口払い and refunds are a cashier's (会計担当, the membership's flag), not every reviewer's."""
    if user is None or not is_cashier(municipality, user):
        raise PaymentError("not_cashier", _("窓口払いと返金の記録は会計担当の職員だけが行えます。"), status=403)


def _event(payment: Payment, source: str, kind: str, **data) -> None:
    PaymentEvent.objects.create(municipality_id=payment.municipality_id, payment=payment, from_status=source,
                                to_status=payment.status, kind=kind, data=data)


def _audit(action: str, payment: Payment, actor=None, **data) -> None:
    record(f"payments.{action}", actor=actor, obj=payment, data={
        "application": str(payment.application.public_id), "provider": payment.provider,
        "amount_yen": payment.amount_yen, "status": payment.status, **data})


def _resident(person) -> tuple:
    return ("resident", str(person.public_id))


def live_payment(application) -> Payment | None:
    """The application's payment that is not failed, expired or cancelled (at most one)."""
    return (Payment.objects.filter(application=application).exclude(status__in=sorted(ENDED_UNPAID))
            .select_related("application").first())


def payments_of(application) -> list[Payment]:
    return list(Payment.objects.filter(application=application).prefetch_related("refunds").order_by("created_at"))


def own_payment(person, public_id) -> Payment:
    """The resident's own payment by its public id; anything else is the same 404."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        public_id = None
    payment = (Payment.objects.filter(public_id=public_id, application__person=person)
               .select_related("application", "municipality").first() if public_id else None)
    if payment is None:
        raise PaymentError("not_found", _("この支払いはありません。"), status=404)
    return payment


def start(application, person, *, return_url) -> Payment:
    """The resident's 「お支払い」: the application's one live payment, made and handed to the
    provider's checkout if there is none yet. `application` is the person's own (from
    applications.services.own); `return_url(payment)` is where the provider sends them back.
    A double tap gets the same payment (the database's payment_one_live constraint)."""
    with tenant(application.municipality):
        if application.person_id != person.pk:
            raise PaymentError("not_found", _("この申請はありません。"), status=404)
        live = live_payment(application)
        if live is not None and live.status == Status.PENDING:
            live = confirm(live)  # cancelled or expired at the provider meanwhile: a new one
            live = None if live.status in ENDED_UNPAID else live
        if live is not None:
            if live.status in PAID:
                raise PaymentError("already_paid", _("この申請の手数料はお支払い済みです。"))
            return live
        if application.status != PAYMENT_REQUIRED:
            raise PaymentError("not_payable", _("この申請はお支払いを待っていません。"))
        name = providers.name_for(application.municipality)
        provider = providers.get(name)  # the demo provider refuses production here
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    municipality_id=application.municipality_id, application=application,
                    amount_yen=application.fee_yen, provider=name, idempotency_key=uuid.uuid4().hex)
                _event(payment, "", "created")
                _audit("created", payment, _resident(person))
        except IntegrityError:
            live = live_payment(application)  # the other tap's
            if live is None:
                raise
            return live
        try:
            checkout = provider.checkout(payment, return_url=return_url(payment))
        except Exception as exc:  # a provider down, timing out or answering 500: nothing charged
            with transaction.atomic():
                payment = Payment.objects.select_for_update().select_related("application").get(pk=payment.pk)
                payment.status = Status.FAILED
                payment.save(update_fields=["status", "updated_at"])
                _event(payment, Status.CREATED, "checkout_failed", error=type(exc).__name__)
                _audit("failed", payment, _resident(person), error=type(exc).__name__)
            raise PaymentError("provider_unavailable", _("お支払いの画面を開けませんでした。しばらくしてからもう一度お試しください。"),
                               status=503) from exc
        with transaction.atomic():
            payment = Payment.objects.select_for_update().select_related("application").get(pk=payment.pk)
            if payment.status == Status.CREATED:
                payment.provider_reference, payment.status = checkout.reference, Status.PENDING
                payment.checkout_url = checkout.redirect_url
                payment.save(update_fields=["provider_reference", "checkout_url", "status", "updated_at"])
                _event(payment, Status.CREATED, "checkout", reference=checkout.reference)
                _audit("pending", payment, _resident(person))
        return payment


def checkout_url(payment: Payment) -> str | None:
    """Where the resident pays a pending payment (the provider's page), or None."""
    return (payment.checkout_url or None) if payment.status == Status.PENDING else None


def confirm(payment: Payment) -> Payment:
    """Asks the provider for a pending payment's result and records it: the only way an
    online payment succeeds (never the browser's return alone)."""
    with tenant(payment.municipality):
        if payment.status != Status.PENDING:
            return payment
        result = providers.get(payment.provider).fetch(payment)
        if result == "succeeded":
            return _succeed(payment, kind="confirmed")
        if result in ENDED_UNPAID:
            return _end(payment, Status(result))
        return payment


def _succeed(payment: Payment, *, kind: str, actor=None, **data) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("application").get(pk=payment.pk)
        if payment.status not in (Status.CREATED, Status.PENDING):
            return payment  # the same result twice has one effect
        source = payment.status
        payment.status, payment.succeeded_at = Status.SUCCEEDED, timezone.now()
        payment.save(update_fields=["status", "succeeded_at", "updated_at"])
        _event(payment, source, kind, **data)
        _audit("succeeded", payment, actor, **data)
        try:
            with transaction.atomic():
                applications.payment_received(payment.application, payment=receipt_facts(payment))
        except applications.TransitionRefused:
            # Money was taken for an application no longer waiting (withdrawn meanwhile):
            # the payment stays recorded, for staff to refund.
            _event(payment, payment.status, "application_not_waiting")
            _audit("application_not_waiting", payment, actor)
    return payment


def receipt_facts(payment: Payment) -> dict:
    """What the 領収書 says of a succeeded payment (JSON, no personal data): handed to the
    transition's listeners through applications.services.payment_received."""
    return {"id": str(payment.public_id), "amount_yen": payment.amount_yen, "provider": payment.provider,
            "method": payment.method,
            "till_receipt": payment.till_receipt, "paid_at": payment.succeeded_at.isoformat()}


def _end(payment: Payment, status: Status) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("application").get(pk=payment.pk)
        if payment.status != Status.PENDING:
            return payment
        payment.status = status
        payment.save(update_fields=["status", "updated_at"])
        _event(payment, Status.PENDING, status)
        _audit(status, payment)
    return payment


def record_counter(application, user, *, method: str, till_receipt: str) -> Payment:
    """窓口払い: a cashier (会計担当) of the owning department records the fee paid in cash or by card
    at the counter with the till's receipt number. `application` is the department's (from
    applications.queries.for_department). A pending online checkout is cancelled."""
    _require_cashier(application.municipality, user)
    if method not in (Method.CASH, Method.CARD):
        raise PaymentError("invalid_method", _("支払方法を選んでください。"), status=400, field="method")
    till_receipt = (till_receipt or "").strip()
    if not _TILL_RECEIPT.fullmatch(till_receipt):
        raise PaymentError("invalid_till_receipt", _("レシート番号は英数字とハイフン40文字以内で入力してください。"),
                           status=400, field="till_receipt")
    with tenant(application.municipality), transaction.atomic():
        live = (Payment.objects.select_for_update().filter(application=application)
                .exclude(status__in=sorted(ENDED_UNPAID)).first())
        if live is not None and live.status in PAID:
            raise PaymentError("already_paid", _("この申請の手数料はお支払い済みです。"))
        if application.status != PAYMENT_REQUIRED:
            raise PaymentError("not_payable", _("この申請はお支払いを待っていません。"))
        if live is not None:  # an online checkout the resident did not finish
            source, live.status = live.status, Status.CANCELLED
            live.save(update_fields=["status", "updated_at"])
            _event(live, source, "superseded_by_counter")
            _audit("cancelled", live, user, reason="superseded_by_counter")
        payment = Payment.objects.create(
            municipality_id=application.municipality_id, application=application, amount_yen=application.fee_yen,
            provider=COUNTER, method=method, till_receipt=till_receipt, idempotency_key=uuid.uuid4().hex,
            recorded_by=user)
        _event(payment, "", "created", by=user.pk)
        return _succeed(payment, kind="counter", actor=user, method=method, till_receipt=till_receipt)


def refund(payment: Payment, user, *, amount_yen, reason: str) -> Refund:
    """A refund by staff with a reason, full or partial, never more than is left of the
    payment: as a counter refund (cash back at the till, recorded at once), or through the
    payment's provider in three steps — the refund recorded `requested` with its
    idempotency key (one transaction), the provider called outside any transaction, its
    result committed (a second one; _send_refund). A provider that fails or times out
    leaves the refund requested (PaymentError 503) for `retry_refund`."""
    _require_cashier(payment.municipality, user)
    try:
        amount = int(amount_yen)
    except (TypeError, ValueError):
        amount = 0
    if isinstance(amount_yen, bool) or amount <= 0:
        raise PaymentError("invalid_amount", _("返金額は1円以上の整数で入力してください。"), status=400,
                           field="amount_yen")
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise PaymentError("invalid_reason", _("返金の理由を500文字以内で入力してください。"), status=400, field="reason")
    with tenant(payment.municipality):
        with transaction.atomic():
            payment = Payment.objects.select_for_update().select_related("application").get(pk=payment.pk)
            if payment.status not in (Status.SUCCEEDED, Status.PARTIALLY_REFUNDED):
                raise PaymentError("not_refundable", _("この支払いは返金できません。"))
            if payment.refunds.filter(status=Refund.Status.REQUESTED).exists():
                raise PaymentError("refund_in_flight", _("処理中の返金があります。先にその返金を再試行してください。"))
            left = payment.amount_yen - payment.refunded_yen
            if amount > left:
                raise PaymentError("refund_too_large", _("返金額が返金できる額（%(left)s円）を超えています。")
                                   % {"left": f"{left:,}"}, status=400, field="amount_yen")
            counter = payment.provider == COUNTER
            refund = Refund.objects.create(
                municipality_id=payment.municipality_id, payment=payment, amount_yen=amount, reason=reason, by=user,
                status=Refund.Status.SUCCEEDED if counter else Refund.Status.REQUESTED,
                idempotency_key=uuid.uuid4().hex)
            if counter:
                _complete_refund(payment, refund, user, counter=True)
                return refund
            _event(payment, payment.status, "refund_requested", refund=refund.pk, amount_yen=amount)
            _audit("refund_requested", payment, user, refund=refund.pk, refund_yen=amount)
        return _send_refund(refund, user)


def retry_refund(payment: Payment, user) -> Refund:
    """Staff's retry of the payment's refund left requested by a failure or a timeout: the
    provider is asked again with the same idempotency key, so a refund it had made already
    is answered, not made twice."""
    _require_cashier(payment.municipality, user)
    with tenant(payment.municipality):
        refund = payment.refunds.filter(status=Refund.Status.REQUESTED).first()
        if refund is None:
            raise PaymentError("no_refund_in_flight", _("再試行する返金はありません。"))
        return _send_refund(refund, user)


def _send_refund(refund: Refund, user) -> Refund:
    payment = refund.payment
    error, refused = "", False
    try:
        reference = providers.get(payment.provider).refund(payment, refund.amount_yen,
                                                           idempotency_key=f"refund-{refund.idempotency_key}")
    except providers.RefundRefused as exc:
        error, refused = str(exc)[:200] or "refused", True
    except Exception as exc:  # down, timing out, a 500: we do not know; the refund stays requested
        error = type(exc).__name__[:200]
        log.warning("refund %s: the provider failed: %s", refund.pk, error)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("application").get(pk=payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Refund.Status.REQUESTED:
            return refund  # a concurrent try recorded it: one effect
        refund.attempts += 1
        if not error:
            refund.provider_reference = reference
            _complete_refund(payment, refund, user)
            return refund
        refund.last_error = error
        if refused:
            refund.status, refund.completed_at = Refund.Status.FAILED, timezone.now()
        refund.save(update_fields=["attempts", "last_error", "status", "completed_at"])
        _event(payment, payment.status, "refund_refused" if refused else "refund_failed", refund=refund.pk,
               error=error[:80])
        _audit("refund_refused" if refused else "refund_failed", payment, user, refund=refund.pk,
               refund_yen=refund.amount_yen, error=error[:80])
    if refused:
        raise PaymentError("refund_refused", _("決済事業者が返金を受け付けませんでした（%(error)s）。")
                           % {"error": error}, status=502)
    raise PaymentError("refund_provider_unavailable", _(
        "決済事業者に返金を依頼できませんでした。返金は「返金処理中」のままです。しばらくしてから再試行してください。"),
        status=503)


def _complete_refund(payment: Payment, refund: Refund, user, *, counter: bool = False) -> None:
    """Inside the caller's transaction, the payment locked: the refund counted, its event,
    audit event and the resident's notice (kind `refunded`)."""
    refund.status, refund.completed_at = Refund.Status.SUCCEEDED, timezone.now()
    refund.save(update_fields=["status", "completed_at", "provider_reference", "attempts"])
    source = payment.status
    payment.refunded_yen += refund.amount_yen
    payment.status = Status.REFUNDED if payment.refunded_yen == payment.amount_yen else Status.PARTIALLY_REFUNDED
    payment.save(update_fields=["refunded_yen", "status", "updated_at"])
    _event(payment, source, "refund", refund=refund.pk, amount_yen=refund.amount_yen, counter=counter)
    _audit("refunded", payment, user, refund=refund.pk, refund_yen=refund.amount_yen, counter=counter)
    applications.notify_refunded(payment.application)


def expire_abandoned(municipality, *, now=None) -> dict[str, int]:
    """The municipality's checkouts pending longer than PAYMENT_PENDING_EXPIRY_MINUTES: each
    is asked about (paid meanwhile: it succeeds as usual), else closed at the provider and
    recorded expired, so its application is payable again. A provider that cannot be
    reached leaves the payment pending for the next sweep. Returns counts by outcome."""
    from datetime import timedelta

    from django.conf import settings

    cutoff = (now or timezone.now()) - timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES)
    counts: dict[str, int] = {}
    with tenant(municipality):
        stale = list(Payment.objects.filter(status=Status.PENDING, updated_at__lt=cutoff).exclude(provider=COUNTER)
                     .select_related("application", "municipality").order_by("updated_at")[:200])
        for payment in stale:
            try:
                payment = confirm(payment)
                if payment.status == Status.PENDING:
                    providers.get(payment.provider).expire(payment)
                    payment = confirm(payment)
            except Exception as exc:  # noqa: BLE001  (the provider away: the next sweep asks again)
                log.warning("expiring payment %s failed: %s", payment.pk, type(exc).__name__)
                outcome = "unreachable"
            else:
                outcome = str(payment.status)
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def sweep() -> dict:
    """expire_abandoned() in every municipality: one of the worker's sweeps
    (core/management/commands/worker.py)."""
    from madoguchi.municipalities.models import Municipality

    return {m.code: found for m in Municipality.objects.order_by("code") if (found := expire_abandoned(m))}


# The Checkout Session events that may change a payment; any other type is logged and ignored.
STRIPE_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded",
                           "checkout.session.async_payment_failed", "checkout.session.expired"})
MAX_WEBHOOK_BYTES = 256 * 1024


def stripe_webhook(payload: bytes, signature: str | None) -> str:
    """A webhook of the stripe provider, for the municipality in scope: its signature
    checked, then the payment it names confirmed with the API (so a replay, a duplicate or
    events out of order all end in the provider's state, with one effect). Returns what
    was done: the payment's status, `ignored` or `unknown`."""
    import stripe

    from .providers import stripe as stripe_provider

    if len(payload) > MAX_WEBHOOK_BYTES:
        raise PaymentError("too_large", "payload too large", status=413, field="body")
    try:
        event = stripe_provider.verify(payload, signature)
    except stripe.SignatureVerificationError:
        raise PaymentError("bad_signature", "Stripe-Signature does not verify", status=400,
                           field="Stripe-Signature") from None
    except ValueError:
        raise PaymentError("bad_payload", "the body is not a JSON event", status=400, field="body") from None
    if event.type not in STRIPE_EVENTS:
        log.info("stripe webhook ignored", extra={"event_type": str(event.type)[:80], "event": str(event.id)[:80]})
        return "ignored"
    reference = str(event.data.object.id)
    payment = Payment.objects.filter(provider="stripe", provider_reference=reference).select_related(
        "application", "municipality").first()
    if payment is None:
        log.warning("stripe webhook for no payment", extra={"event": str(event.id)[:80]})
        return "unknown"
    return confirm(payment).status
