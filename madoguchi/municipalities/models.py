from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .codes import InvalidMunicipalityCode, prefecture_of, validate_code


def validate_municipality_code(value: str) -> None:
    try:
        validate_code(value)
    except InvalidMunicipalityCode as exc:
        raise ValidationError(str(exc), code="invalid_municipality_code") from None


class Municipality(models.Model):
    """A municipality (市区町村): the tenant. Its code is the 6-digit 全国地方公共団体コード."""

    code = models.CharField(
        _("全国地方公共団体コード"), max_length=6, unique=True, validators=[validate_municipality_code]
    )
    name = models.CharField(_("名称"), max_length=64)
    name_kana = models.CharField(_("名称（かな）"), max_length=128)
    is_active = models.BooleanField(_("公開中"), default=True)
    # Settings shown to residents; staff administrators edit them in the back office.
    contact_phone = models.CharField(_("代表電話番号"), max_length=32, blank=True)
    contact_email = models.EmailField(_("問い合わせメールアドレス"), blank=True)
    website_url = models.URLField(_("公式ウェブサイト"), blank=True)
    office_hours = models.CharField(_("開庁時間"), max_length=200, blank=True)
    welcome_message = models.TextField(_("トップページのお知らせ文"), max_length=2000, blank=True)
    # English versions for residents reading the portal in English; empty = the Japanese is
    # shown (marked lang="ja" so a screen reader reads it as Japanese).
    office_hours_en = models.CharField(_("開庁時間（英語）"), max_length=200, blank=True)
    welcome_message_en = models.TextField(_("トップページのお知らせ文（英語）"), max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("自治体")
        verbose_name_plural = _("自治体")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    def in_language(self, field: str, language: str) -> dict:
        """A resident-facing text in the reader's language where staff wrote one:
        {"text": ..., "lang": the language it is in}."""
        english = getattr(self, f"{field}_en", "") if language != "ja" else ""
        return {"text": english, "lang": "en"} if english else {"text": getattr(self, field), "lang": "ja"}

    @property
    def prefecture(self) -> str:
        return prefecture_of(self.code)

