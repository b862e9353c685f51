"""A payment of an application's fee, its refunds and its append-only event history.

A payment names its provider (the registry's name, or `counter` for 窓口払い) and the
provider's reference; its status goes created → pending → succeeded / failed / expired /
cancelled, then refunded or partially refunded. One application has at most one payment
that is not failed, expired or cancelled: a database constraint, so a double tap or two
servers can never charge it twice.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Status(models.TextChoices):
    CREATED = "created", _("作成")
    PENDING = "pending", _("お支払い手続き中")
    SUCCEEDED = "succeeded", _("支払済み")
    FAILED = "failed", _("失敗")
    EXPIRED = "expired", _("期限切れ")
    CANCELLED = "cancelled", _("取消し")
    REFUNDED = "refunded", _("返金済み")
    PARTIALLY_REFUNDED = "partially_refunded", _("一部返金済み")


# A payment in one of these ends without money taken: the application may be paid again.
ENDED_UNPAID = frozenset({Status.FAILED, Status.EXPIRED, Status.CANCELLED})
PAID = frozenset({Status.SUCCEEDED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})


class Method(models.TextChoices):
    ONLINE = "online", _("オンライン")
    CASH = "cash", _("現金")
    CARD = "card", _("カード")


class Payment(TenantOwned):
    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    application = models.ForeignKey("applications.Application", on_delete=models.PROTECT, related_name="payments")
    amount_yen = models.PositiveIntegerField(_("金額"))
    provider = models.CharField(_("決済手段"), max_length=32)  # a PROVIDERS name, or "counter"
    provider_reference = models.CharField(max_length=200, blank=True)
    checkout_url = models.CharField(max_length=1000, blank=True)  # the provider's page, while pending
    method = models.CharField(_("支払方法"), max_length=8, choices=Method.choices, default=Method.ONLINE)
    till_receipt = models.CharField(_("レシート番号"), max_length=40, blank=True)  # 窓口払い: the till's number
    idempotency_key = models.CharField(max_length=64)
    status = models.CharField(_("状態"), max_length=20, choices=Status.choices, default=Status.CREATED)
    refunded_yen = models.PositiveIntegerField(default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")  # 窓口払い: the member of staff
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("支払い")
        verbose_name_plural = _("支払い")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="payment_unique_public_id"),
            models.UniqueConstraint(fields=["municipality", "idempotency_key"], name="payment_unique_idempotency"),
            # Never charged twice: one payment per application that is not failed/expired/cancelled.
            models.UniqueConstraint(fields=["municipality", "application"],
                                    condition=~Q(status__in=sorted(ENDED_UNPAID)), name="payment_one_live"),
            models.UniqueConstraint(fields=["municipality", "provider", "provider_reference"],
                                    condition=~Q(provider_reference=""), name="payment_unique_reference"),
            models.CheckConstraint(condition=Q(amount_yen__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(refunded_yen__lte=models.F("amount_yen")),
                                   name="payment_refund_not_above_amount"),
        ]
        indexes = [models.Index(fields=["municipality", "application"], name="payment_by_application")]

    @property
    def refundable_yen(self) -> int:
        return self.amount_yen - self.refunded_yen if self.status in PAID else 0


class Refund(TenantOwned):
    """A refund of a payment. Through a provider it is first recorded `requested` with its
    idempotency key (one transaction), then the provider is called outside any transaction,
    then its result is committed (`succeeded`, or `failed` when the provider refused it); a
    provider that fails or times out leaves it `requested` for staff to retry with the same
    key (the provider then answers with the same refund: never a double refund). A counter
    refund (cash back at the till) is `succeeded` at once."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("返金処理中")
        SUCCEEDED = "succeeded", _("返金済み")
        FAILED = "failed", _("返金できませんでした")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_yen = models.PositiveIntegerField(_("返金額"))
    reason = models.CharField(_("返金の理由"), max_length=500)
    provider_reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(_("状態"), max_length=10, choices=Status.choices, default=Status.SUCCEEDED)
    idempotency_key = models.CharField(max_length=64, blank=True)  # sent to the provider on every try
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)  # the exception's class or the provider's words
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_yen__gt=0), name="refund_amount_positive"),
            # One refund in flight per payment: the next waits until it succeeded or failed.
            models.UniqueConstraint(fields=["municipality", "payment"], condition=Q(status="requested"),
                                    name="refund_one_requested"),
            models.UniqueConstraint(fields=["municipality", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="refund_unique_idempotency"),
        ]


class AppendOnly(Exception):
    pass


class PaymentEvent(TenantOwned):
    """One change of a payment, appended; never updated or deleted."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    kind = models.CharField(max_length=40)  # created, checkout, succeeded, counter, refund, …
    data = models.JSONField(default=dict, blank=True)  # references only
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["municipality", "payment", "at"], name="payment_event_by_payment")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("payment events are append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("payment events are append-only")


class DemoCheckout(TenantOwned):
    """The demo provider's own ledger (DEMO ONLY): what its hosted page shows and what the
    resident did there. Stands in for the provider's side, which madoguchi asks for the
    result; never read from the browser's return."""

    class State(models.TextChoices):
        OPEN = "open", "open"
        PAID = "paid", "paid"
        CANCELLED = "cancelled", "cancelled"
        EXPIRED = "expired", "expired"

    reference = models.CharField(max_length=64)
    amount_yen = models.PositiveIntegerField()
    return_url = models.CharField(max_length=300)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)  # when its page was paid: the day it settles

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "reference"], name="demo_checkout_reference")]

    def save(self, *args, **kwargs):
        # Paid on its page: the ledger keeps the time (reconciliation lists a day's settlements).
        if self.state == self.State.PAID and self.paid_at is None:
            from django.utils import timezone

            self.paid_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = [*kwargs["update_fields"], "paid_at"]
        return super().save(*args, **kwargs)


class DemoRefund(TenantOwned):
    """The demo provider's ledger of refunds (DEMO ONLY), listed by its settlements."""

    reference = models.CharField(max_length=64)
    checkout_reference = models.CharField(max_length=64)
    amount_yen = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "reference"], name="demo_refund_reference")]


# --- Reconciliation (収納消込): payments/reconciliation.py -------------------------------


class Outcome(models.TextChoices):
    MATCHED = "matched", _("一致")
    MISSING_OURS = "missing_ours", _("当方の記録なし")
    MISSING_THEIRS = "missing_theirs", _("決済事業者の記録なし")
    AMOUNT_DIFFERS = "amount_differs", _("金額不一致")


class ReconciliationRun(TenantOwned):
    """One municipality's reconciliation of one provider's settled transactions of one day
    (in Japan). Run again, the same run is brought up to date: never a second one."""

    class State(models.TextChoices):
        RUNNING = "running", _("実行中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")

    provider = models.CharField(_("決済手段"), max_length=32)
    day = models.DateField(_("対象日"))
    state = models.CharField(_("状態"), max_length=10, choices=State.choices, default=State.RUNNING)
    error = models.CharField(max_length=200, blank=True)  # the exception's class: no personal data
    matched = models.PositiveIntegerField(default=0)
    missing_ours = models.PositiveIntegerField(default=0)
    missing_theirs = models.PositiveIntegerField(default=0)
    amount_differs = models.PositiveIntegerField(default=0)
    settled_yen = models.BigIntegerField(default=0)  # the provider's charges less its refunds
    fee_yen = models.BigIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)  # how many times this day was run
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("収納消込")
        verbose_name_plural = _("収納消込")
        constraints = [models.UniqueConstraint(fields=["municipality", "provider", "day"], name="recon_run_unique_day")]
        ordering = ["-day", "provider"]

    @property
    def unmatched(self) -> int:
        return self.missing_ours + self.missing_theirs + self.amount_differs


class ReconciliationItem(TenantOwned):
    """One settled transaction (theirs), one record of ours, or both, and how they compare.
    An item that is not matched stays open until a member of staff resolves it with a note."""

    class Kind(models.TextChoices):
        CHARGE = "charge", _("入金")
        REFUND = "refund", _("返金")

    # Few indexes: a run may write 100,000 items (run_id is led by the unique constraint's index).
    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="items", db_index=False)
    kind = models.CharField(_("種別"), max_length=8, choices=Kind.choices)
    reference = models.CharField(_("参照番号"), max_length=200)  # the checkout, refund or till receipt
    transaction = models.CharField(max_length=200, blank=True)  # the provider's settled transaction
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_index=False)
    ours_yen = models.BigIntegerField(null=True, blank=True)
    theirs_yen = models.BigIntegerField(null=True, blank=True)
    fee_yen = models.BigIntegerField(default=0)
    outcome = models.CharField(_("結果"), max_length=16, choices=Outcome.choices)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", db_index=False)
    resolution = models.CharField(_("処理内容"), max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "run", "kind", "reference"],
                                    name="recon_item_unique_reference"),
            # An item that is not matched is open until resolved with a note.
            models.CheckConstraint(condition=Q(resolved_at__isnull=True) | ~Q(resolution=""),
                                   name="recon_item_resolved_with_note"),
        ]
        # The open items only (few: staff resolve them): the open list, and closing them across days.
        indexes = [models.Index(fields=["municipality", "outcome"], name="recon_item_open",
                                condition=Q(resolved_at__isnull=True) & ~Q(outcome="matched"))]

    @property
    def is_open(self) -> bool:
        return self.outcome != Outcome.MATCHED and self.resolved_at is None
