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


class Beneficiary(TenantOwned):
    """給付対象者: one payee of a program (the person, or the household's head), written when
    staff open the program, with the way they are paid: into their registered 公金受取口座
    after a 支給予定通知 and its window to decline (プッシュ型), or after a 確認書."""

    class Route(models.TextChoices):
        PUSH = "push", _("プッシュ型（公金受取口座）")
        CONFIRMATION = "confirmation", _("確認書")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("支給予定（辞退・口座変更の受付中）")
        AWAITING = "awaiting", _("確認書の提出待ち")
        READY = "ready", _("支給準備済み")
        DECLINED = "declined", _("辞退")
        IN_RUN = "in_run", _("振込手続き中")
        PAID = "paid", _("支給済み")
        FAILED = "failed", _("振込不能（口座の確認待ち）")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="beneficiaries")
    resident_number = models.CharField(_("宛名番号"), max_length=20)
    household_id = models.CharField(_("世帯番号"), max_length=20, blank=True)
    name = models.CharField(_("氏名"), max_length=200)
    units = models.PositiveIntegerField(default=1)
    amount_yen = models.PositiveIntegerField(_("支給額（円）"))
    route = models.CharField(max_length=16, choices=Route.choices)
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices)
    decline_until = models.DateField(_("辞退・変更の期限"), null=True, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "program", "resident_number"],
                                               name="benefit_beneficiary_once")]
        indexes = [models.Index(fields=["municipality", "program", "status"], name="benefit_beneficiary_status")]

    def __str__(self) -> str:
        return f"{self.program_id}:{self.resident_number}"


class Confirmation(TenantOwned):
    """確認書: the payee's answer with the account to pay into, online (a signed application
    of the catalog's 給付金の確認書, taken when staff accept it) or on paper (typed in by
    staff). One per program and payee whichever way it came — the unique constraint is what
    stops a household that sent both from being paid twice."""

    class Channel(models.TextChoices):
        ONLINE = "online", _("オンライン（マイナンバーカードで署名）")
        PAPER = "paper", _("紙（職員が入力）")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="confirmations")
    resident_number = models.CharField(max_length=20)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    application_id = models.CharField(max_length=36, blank=True)  # the online application's public id
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    bank_code = models.CharField(max_length=4)
    bank_name = models.CharField(max_length=100)
    branch_code = models.CharField(max_length=3)
    branch_name = models.CharField(max_length=100)
    account_type = models.PositiveSmallIntegerField()
    account_number = models.CharField(max_length=7)  # for the transfer file only; masked on pages
    holder_kana = models.CharField(max_length=30)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "program", "resident_number"],
                                               name="benefit_confirmation_once")]


class PaymentRun(TenantOwned):
    """振込データ: the payments of one program due on one date, built by one member of staff
    and approved by another (four eyes). Approval freezes it: the Zengin file is written
    from its payments, whose bytes are the same every time (their SHA-256 is in the audit
    trail); the bank's result file then marks each payment paid or failed."""

    class Status(models.TextChoices):
        BUILT = "built", _("作成済み（承認待ち）")
        RELEASED = "released", _("承認済み（振込ファイル作成）")
        SETTLED = "settled", _("結果取込済み")
        CANCELLED = "cancelled", _("取消")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="runs")
    payment_date = models.DateField(_("振込指定日"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILT)
    # The payer (振込依頼人): the municipality's account the transfers leave from.
    payer_code = models.CharField(_("振込依頼人コード"), max_length=10)
    payer_name = models.CharField(_("振込依頼人名（カナ）"), max_length=40)
    payer_bank_code = models.CharField(_("支払元の金融機関コード"), max_length=4)
    payer_branch_code = models.CharField(_("支払元の支店コード"), max_length=3)
    payer_account_type = models.PositiveSmallIntegerField(_("支払元の預金種目"))
    payer_account_number = models.CharField(_("支払元の口座番号"), max_length=7)
    count = models.PositiveIntegerField(default=0)
    total_yen = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    results_sha256 = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.program_id}@{self.payment_date}"


class Payment(TenantOwned):
    """One transfer of a run, with the account as it was when the run was built."""

    class Status(models.TextChoices):
        PENDING = "pending", _("振込待ち")
        PAID = "paid", _("振込済み")
        FAILED = "failed", _("振込不能")
        CANCELLED = "cancelled", _("取消")

    run = models.ForeignKey(PaymentRun, on_delete=models.PROTECT, related_name="payments")
    beneficiary = models.ForeignKey(Beneficiary, on_delete=models.PROTECT, related_name="payments")
    amount_yen = models.PositiveIntegerField()
    bank_code = models.CharField(max_length=4)
    bank_kana = models.CharField(max_length=15)
    branch_code = models.CharField(max_length=3)
    branch_kana = models.CharField(max_length=15)
    account_type = models.PositiveSmallIntegerField()
    account_number = models.CharField(max_length=7)
    holder_kana = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=1, blank=True)
    failure_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            # One payment per beneficiary that is not a failed (or cancelled) one: a failed
            # transfer's payee joins a later run; nobody is paid twice.
            models.UniqueConstraint(fields=["municipality", "beneficiary"],
                                    condition=~models.Q(status__in=["failed", "cancelled"]),
                                    name="benefit_payment_once"),
        ]
        indexes = [models.Index(fields=["municipality", "run", "bank_code"], name="benefit_payment_run_bank")]
