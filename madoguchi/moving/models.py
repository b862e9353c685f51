"""The destination's 転入予定: a verified 転出 package received from the origin municipality
(same deployment or imported from a file). Owned by the destination municipality."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class IncomingMove(TenantOwned):
    class Status(models.TextChoices):
        EXPECTED = "expected", _("転入予定")
        CONFIRMED = "confirmed", _("転入済み")

    origin_code = models.CharField(_("転出元の団体コード"), max_length=6)
    application = models.CharField(_("転出届の受付番号"), max_length=40)
    move_out_on = models.CharField(_("転出予定日"), max_length=10)
    payload = models.JSONField()
    signer_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.EXPECTED)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "origin_code", "application"],
                                               name="moving_incoming_once")]
