from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Ceremony(TenantOwned):
    """One card use: opened by the server, fetched and completed by a card client, watched by
    the browser that opened it. Completes at most once; a failed completion where replay
    would be possible leaves it unusable."""

    class Purpose(models.TextChoices):
        LOGIN = "login", _("ログイン")
        IDENTIFY = "identify", _("本人確認")
        SIGN = "sign", _("電子署名")
        PRESENCE = "presence", _("カードの確認")

    class Status(models.TextChoices):
        OPEN = "open", _("カードの読み取りを待っています")
        COMPLETED = "completed", _("完了")
        FAILED = "failed", _("失敗")
        CONSUMED = "consumed", _("利用済み")

    public_id = models.CharField(max_length=43)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    challenge = models.BinaryField(max_length=32)
    audience = models.CharField(max_length=200)
    requester = models.CharField(max_length=200)  # who asks, shown by the card client
    reason = models.CharField(max_length=200)  # why, shown by the card client
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    poll_token_sha256 = models.CharField(max_length=64)  # the opener's secret, hashed
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completions_tried = models.PositiveIntegerField(default=0)
    document = models.BinaryField(null=True, blank=True)  # `sign`: what is signed
    document_sha256 = models.CharField(max_length=64, blank=True)
    signature = models.BinaryField(null=True, blank=True)  # `sign`: the CMS, returned to the caller
    person = models.ForeignKey("identity.Person", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    verification = models.JSONField(default=dict, blank=True)  # the PKI verification record(s)
    failure_code = models.CharField(max_length=48, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="ceremony_unique_public_id"),
        ]
        indexes = [models.Index(fields=["municipality", "status", "expires_at"], name="ceremony_status_expiry")]

    def __str__(self) -> str:
        return f"{self.purpose}:{self.public_id[:8]}"
