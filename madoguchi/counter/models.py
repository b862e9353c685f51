"""A visit at the counter: what one card read filled in, alive for the visit only.

The verified facts and the procedures' data are personal data read from the card and the
resident record: they are emptied when the visit closes (filed or discarded) and by the
worker's sweep once the visit has expired. The face photo is never stored. The card is
identified (in the visit and the audit) only by the SHA-256 of its signed card face record.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Visit(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", _("受付中")
        FILED = "filed", _("申請済み")
        CLOSED = "closed", _("終了")
        EXPIRED = "expired", _("期限切れ")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    served_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("状態"), max_length=10, choices=Status.choices, default=Status.OPEN)
    card_hash = models.CharField(max_length=64)  # SHA-256 of the signed card face record
    facts = models.JSONField(default=dict, blank=True)  # verified name, birth date, sex, address, kana
    record_id = models.IntegerField(null=True, blank=True)  # the matched 住民記録 (residents.reading)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "public_id"], name="counter_visit_unique_id")]
        indexes = [models.Index(fields=["municipality", "status", "expires_at"], name="counter_visit_by_expiry")]


class VisitProcedure(TenantOwned):
    """One procedure chosen for a visit, with the data staff filled (emptied at close)."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="procedures")
    slug = models.CharField(max_length=64)
    version_id = models.IntegerField()
    data = models.JSONField(default=dict, blank=True)
    complete = models.BooleanField(default=False)
    receipt_number = models.CharField(max_length=20, blank=True)
    # Signing at the counter (the `sign` ceremony through the local agent): the nonce of the
    # document signed, the ceremony and its opener's poll token while it runs, then the CMS
    # (its ceremony verified it). Emptied with the data when the visit closes.
    sign_nonce = models.CharField(max_length=64, blank=True)
    sign_ceremony = models.CharField(max_length=64, blank=True)
    sign_token = models.CharField(max_length=128, blank=True)
    signature = models.BinaryField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "visit", "slug"], name="counter_procedure_once")]


class Desk(TenantOwned):
    """A staff member's counter desk as the resident-facing screen sees it: the screen (a
    window of the staff member's browser on the display turned towards the resident) follows
    the desk's visit, and shows a PIN pad while the staff member has asked for the PIN — so
    the resident types the PIN on their own screen, not on the staff page."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    pin_requested_at = models.DateTimeField(null=True, blank=True)
    visit = models.ForeignKey(Visit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "staff"], name="counter_desk_once")]
