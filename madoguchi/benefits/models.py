"""A benefit program (給付事業): its legal basis, reference date (基準日), unit and amount, and
the eligibility rules over the resident register."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Program(TenantOwned):
    class Unit(models.TextChoices):
        PERSON = "person", _("1人あたり")
        HOUSEHOLD = "household", _("1世帯あたり")
        CHILD = "child", _("子ども1人あたり")

    class Status(models.TextChoices):
        DRAFT = "draft", _("準備中")
        OPEN = "open", _("支給中")
        CLOSED = "closed", _("終了")

    name = models.CharField(_("事業名"), max_length=100)
    legal_basis = models.CharField(_("根拠（要綱・条例・法令）"), max_length=200)
    reference_date = models.DateField(_("基準日"))
    unit = models.CharField(_("支給単位"), max_length=10, choices=Unit.choices)
    amount_yen = models.PositiveIntegerField(_("支給額（円）"))
    age_min = models.PositiveSmallIntegerField(_("年齢の下限"), null=True, blank=True)
    age_max = models.PositiveSmallIntegerField(_("年齢の上限"), null=True, blank=True)
    age_on = models.DateField(_("年齢の基準日"), null=True, blank=True)  # None: the reference date
    child_under_age = models.PositiveSmallIntegerField(_("子どもの年齢（〜歳未満）"), null=True, blank=True)
    excluded_flags = models.CharField(_("除外する区分"), max_length=200, blank=True)  # space-separated
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="benefit_program_name_once")]

    def __str__(self) -> str:
        return self.name

    def flags(self) -> list[str]:
        return self.excluded_flags.split()
