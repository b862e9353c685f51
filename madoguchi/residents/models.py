from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned

from .names import kana_key, search_key


class Sex(models.TextChoices):
    """ISO 5218, as the card and the resident register code it."""

    MALE = "1", _("男")
    FEMALE = "2", _("女")
    NOT_APPLICABLE = "9", _("適用不能")


class ResidentRecord(TenantOwned):
    """One person in the municipality's resident register (住民記録), as the core system has it.

    Names are stored exactly as received (variation selectors and rare characters
    intact); `name_key` and `kana_key` are the normalised forms used for matching and
    search. A record under 支援措置 (DV and stalking protection) never has its address
    prefilled or disclosed.
    """

    class Status(models.TextChoices):
        RESIDENT = "resident", _("住民")
        MOVED_OUT = "moved_out", _("転出")
        DECEASED = "deceased", _("死亡")

    resident_number = models.CharField(_("宛名番号"), max_length=20)
    name = models.CharField(_("氏名"), max_length=200)
    name_kana = models.CharField(_("氏名（かな）"), max_length=200, blank=True)
    name_alternative = models.CharField(_("代替文字の氏名"), max_length=200, blank=True)
    name_key = models.CharField(max_length=200, editable=False)
    kana_key = models.CharField(max_length=200, editable=False, blank=True)
    alternative_key = models.CharField(max_length=200, editable=False, blank=True)
    birth_date = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1, choices=Sex.choices)
    address = models.CharField(_("住所"), max_length=300)
    household_id = models.CharField(_("世帯番号"), max_length=20, blank=True)
    is_household_head = models.BooleanField(_("世帯主"), default=False)
    relationship = models.CharField(_("続柄"), max_length=40, blank=True)
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices, default=Status.RESIDENT)
    support_measure = models.BooleanField(_("支援措置"), default=False)
    alphabet_name = models.CharField(_("英字氏名"), max_length=200, blank=True)
    common_name = models.CharField(_("通称"), max_length=200, blank=True)
    # 本籍 and 筆頭者: printed on a 住民票の写し only when the resident asks (住民基本台帳法
    # 第12条第5項); empty for a foreign resident, who has none.
    domicile = models.CharField(_("本籍"), max_length=300, blank=True)
    family_register_head = models.CharField(_("筆頭者"), max_length=200, blank=True)
    # 記載修正中: the core system is correcting the record; no certificate is issued online
    # until it is cleared (the resident is told to visit the counter).
    under_correction = models.BooleanField(_("記載修正中"), default=False)
    # 住民となった年月日 and the day the person stopped being a resident (転出・死亡), so a
    # benefit's reference date (基準日) can ask who was a resident on that day.
    resident_since = models.DateField(_("住民となった年月日"), null=True, blank=True)
    left_on = models.DateField(_("異動日（転出・死亡）"), null=True, blank=True)
    # The core system's flags for a person (e.g. 非課税, 生活保護), space-separated and
    # space-padded (" 非課税 生活保護 ") so one flag is matched whole: benefits exclude by them.
    flags = models.CharField(_("区分"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("住民記録")
        verbose_name_plural = _("住民記録")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "resident_number"], name="resident_record_unique_number"),
        ]
        indexes = [
            # The identity match: birth date + sex + normalised name.
            models.Index(fields=["municipality", "birth_date", "sex", "name_key"], name="resident_record_match"),
            models.Index(fields=["municipality", "household_id"], name="resident_record_household"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_number}"

    def save(self, *args, **kwargs):
        self.refresh_keys()
        super().save(*args, **kwargs)

    def refresh_keys(self) -> None:
        self.name_key = search_key(self.name)
        self.kana_key = kana_key(self.name_kana)
        self.alternative_key = search_key(self.name_alternative)

    @property
    def address_disclosable(self) -> bool:
        return not self.support_measure


class SealRegistration(TenantOwned):
    """印鑑登録: the seal a resident registered (the impression as an image, as the
    registration system holds it), by the core system's registration number. One per record;
    an abolished registration (廃止) certifies nothing."""

    record = models.ForeignKey(ResidentRecord, on_delete=models.PROTECT, related_name="+")
    registration_number = models.CharField(_("登録番号"), max_length=20)
    impression_png = models.BinaryField(_("印影"))
    registered_on = models.DateField(_("登録日"))
    abolished_on = models.DateField(_("廃止日"), null=True, blank=True)

    class Meta:
        verbose_name = _("印鑑登録")
        verbose_name_plural = _("印鑑登録")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "record"], name="seal_registration_one_per_record"),
            models.UniqueConstraint(fields=["municipality", "registration_number"], name="seal_registration_number"),
        ]
