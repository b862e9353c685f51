from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class TokenType(models.TextChoices):
    CARD = "card", _("マイナンバーカード")
    SMARTPHONE = "smartphone", _("スマートフォン用電子証明書")


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
    # How the card reached the ceremony (cardpaths: CARD_PATHS' name) and what answered:
    # the physical card or a smartphone's own certificates (スマホ用電子証明書).
    card_path = models.CharField(max_length=32, blank=True)
    token_type = models.CharField(max_length=16, choices=TokenType.choices, blank=True)
    require_card = models.BooleanField(default=False)  # the opener accepts only the physical card

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="ceremony_unique_public_id"),
        ]
        indexes = [models.Index(fields=["municipality", "status", "expires_at"], name="ceremony_status_expiry")]

    def __str__(self) -> str:
        return f"{self.purpose}:{self.public_id[:8]}"


class CardPathSetting(TenantOwned):
    """Which card paths (cardpaths.CARD_PATHS) the municipality offers. Without a row, the
    installation's default (settings.CARD_PATHS_ENABLED). Changed with `madoguchi card_paths`."""

    enabled = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], name="card_path_setting_one")]
