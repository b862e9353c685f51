"""One receiving account per resident, and the append-only history of every change.

The account number is kept (a payment file needs it) but never shown whole on a page
(`masked`: ****567), never put in an audit event or a log line; `__str__` and `__repr__`
mask it too.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class AccountType(models.IntegerChoices):
    # 流動性預金 only: the registry takes ordinary, current and savings deposits.
    ORDINARY = 1, _("普通")
    CURRENT = 2, _("当座")
    SAVINGS = 4, _("貯蓄")


class Source(models.TextChoices):
    PORTAL = "portal", _("オンライン窓口（電子署名）")
    NATIONAL = "national", _("公金受取口座登録システム（国）")


class Status(models.TextChoices):
    ACTIVE = "active", _("登録済み")
    HELD = "held", _("職員確認中")
    REJECTED = "rejected", _("確認できませんでした")


class NameCheck(models.TextChoices):
    MATCH = "match", _("住民記録のカナ氏名と一致")
    MISMATCH = "mismatch", _("住民記録のカナ氏名と不一致")
    NO_KANA = "no_kana", _("住民記録にカナ氏名がない")


def mask(number: str) -> str:
    return f"****{number[-3:]}" if number else ""


class ReceivingAccount(TenantOwned):
    """The resident's 公金受取口座 in this municipality: one per resident record, and one
    per person (database constraints). Held (`held`) when the holder's kana does not match
    the resident record's kana, until staff decide."""

    resident_number = models.CharField(_("宛名番号"), max_length=20)
    person = models.ForeignKey("identity.Person", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    bank_code = models.CharField(_("金融機関コード"), max_length=4)
    bank_name = models.CharField(_("金融機関名"), max_length=100)
    bank_kana = models.CharField(_("金融機関名（カナ）"), max_length=100)
    branch_code = models.CharField(_("支店コード"), max_length=3)
    branch_name = models.CharField(_("支店名"), max_length=100)
    branch_kana = models.CharField(_("支店名（カナ）"), max_length=100)
    account_type = models.PositiveSmallIntegerField(_("預金種目"), choices=AccountType.choices)
    account_number = models.CharField(_("口座番号"), max_length=7)
    holder_kana = models.CharField(_("口座名義（カナ）"), max_length=30)
    source = models.CharField(_("登録元"), max_length=16, choices=Source.choices)
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices)
    name_check = models.CharField(_("名義の照合"), max_length=16, choices=NameCheck.choices)
    document_sha256 = models.CharField(max_length=64, blank=True)  # the signed registration (portal)
    verification = models.JSONField(default=dict, blank=True)       # the ceremony's verification record
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "resident_number"],
                                    name="receiving_account_one_per_resident"),
            models.UniqueConstraint(fields=["municipality", "person"], condition=Q(person__isnull=False),
                                    name="receiving_account_one_per_person"),
            models.CheckConstraint(condition=Q(account_number__regex=r"^[0-9]{7}$")
                                   & Q(bank_code__regex=r"^[0-9]{4}$") & Q(branch_code__regex=r"^[0-9]{3}$"),
                                   name="receiving_account_codes_digits"),
        ]
        indexes = [
            models.Index(fields=["municipality", "status"], name="receiving_account_status"),
            models.Index(fields=["municipality", "bank_code", "branch_code", "account_type", "account_number"],
                         name="receiving_account_same"),
        ]

    @property
    def masked_number(self) -> str:
        return mask(self.account_number)

    def __str__(self) -> str:
        return f"{self.bank_code}-{self.branch_code} {self.masked_number}"

    def __repr__(self) -> str:
        return f"<ReceivingAccount {self.pk} {self}>"


class AccountChange(TenantOwned):
    """Append-only history: each registration, change, review decision and deletion with
    the account as it stood after it (for a deletion, as it stood before)."""

    class Action(models.TextChoices):
        REGISTERED = "registered", _("登録")
        CHANGED = "changed", _("変更")
        DELETED = "deleted", _("削除")
        APPROVED = "approved", _("職員が名義を確認")
        REJECTED = "rejected", _("職員が登録を認めず")
        IMPORTED = "imported", _("国の登録情報から取込")

    account_id_at_change = models.BigIntegerField(null=True, blank=True)
    resident_number = models.CharField(max_length=20)
    person = models.ForeignKey("identity.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    bank_code = models.CharField(max_length=4)
    branch_code = models.CharField(max_length=3)
    account_type = models.PositiveSmallIntegerField(choices=AccountType.choices)
    account_number = models.CharField(max_length=7)
    holder_kana = models.CharField(max_length=30)
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    actor_type = models.CharField(max_length=16)  # resident | staff | system
    actor_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["municipality", "resident_number", "at"], name="receiving_change_resident")]

    class AppendOnly(Exception):
        pass

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise self.AppendOnly("the history of receiving accounts is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise self.AppendOnly("the history of receiving accounts is append-only")

    @property
    def masked_number(self) -> str:
        return mask(self.account_number)

    def __str__(self) -> str:
        return f"{self.action} {self.bank_code}-{self.branch_code} {self.masked_number}"
