import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned

from .statemachine import OPEN, Role, Status

_OPEN = Q(status__in=sorted(OPEN))


class Application(TenantOwned):
    """A resident's application on one procedure version.

    `data` never holds an individual number in clear (masked; the sealed values are
    IndividualNumber rows). `document` is the exact canonical JSON (RFC 8785) that was
    signed, sealed with AES-GCM when it carries individual numbers.
    """

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    person = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="applications")
    procedure = models.ForeignKey("procedures.Procedure", on_delete=models.PROTECT, related_name="applications")
    version = models.ForeignKey("procedures.ProcedureVersion", on_delete=models.PROTECT, related_name="applications")
    status = models.CharField(_("状態"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    data = models.JSONField(default=dict)
    document = models.BinaryField(null=True, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    document_key_id = models.CharField(max_length=32, blank=True)  # set when the document is sealed
    signature = models.BinaryField(null=True, blank=True)  # the CMS (detached CAdES-BES)
    verification = models.JSONField(default=dict, blank=True)  # the PKI verification record
    receipt_number = models.CharField(_("受付番号"), max_length=20, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True)
    request_digest = models.CharField(max_length=64, blank=True)  # HMAC of the request, to tell a replay
    dedup_key = models.CharField(max_length=64, blank=True)  # "person:…" / "household:…" / "" (no rule)
    household_id = models.CharField(max_length=20, blank=True)
    # A draft holding the corrected data of a returned application while it is signed.
    corrects = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    fee_yen = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("申請")
        verbose_name_plural = _("申請")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="application_unique_public_id"),
            models.UniqueConstraint(fields=["municipality", "receipt_number"], condition=~Q(receipt_number=""),
                                    name="application_unique_receipt"),
            # A double tap or a retried request never makes two applications.
            models.UniqueConstraint(fields=["municipality", "person", "idempotency_key"],
                                    condition=~Q(idempotency_key=""), name="application_unique_idempotency"),
            # One open application per person (or household) and procedure.
            models.UniqueConstraint(fields=["municipality", "procedure", "dedup_key"],
                                    condition=_OPEN & ~Q(dedup_key=""), name="application_one_open"),
        ]
        indexes = [
            models.Index(fields=["municipality", "person", "created_at"], name="application_by_person"),
            models.Index(fields=["municipality", "procedure", "status"], name="application_by_status"),
        ]

    def __str__(self) -> str:
        return self.receipt_number or str(self.public_id)


class ApplicationEvent(TenantOwned):
    """The status history: one row per transition."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    role = models.CharField(max_length=16, choices=Role.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    comment = models.TextField(blank=True)
    signed = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["municipality", "application", "at"], name="application_event_history")]


class IndividualNumber(TenantOwned):
    """An individual number of an application, sealed (AES-GCM; the associated data binds
    it to its municipality, application and place). Deleted with the application."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="individual_numbers")
    pointer = models.CharField(max_length=200)  # JSON pointer into the data
    key_id = models.CharField(max_length=32)
    sealed = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "application", "pointer"], name="individual_number_unique"),
        ]


class Attachment(TenantOwned):
    class Sanitisation(models.TextChoices):
        PENDING = "pending", _("無害化待ち")
        CLEAN = "clean", _("無害化済み")
        REJECTED = "rejected", _("無害化できず")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=200)
    file = models.FileField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=64)  # sniffed from the content, never the name
    sanitisation = models.CharField(max_length=16, choices=Sanitisation.choices, default=Sanitisation.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["municipality", "application"], name="attachment_by_application")]


class Notice(TenantOwned):
    """A notice to the resident. Holds references only; the text is rendered from the
    status (notices.text), so no personal data or number is ever stored in it."""

    person = models.ForeignKey("identity.Person", on_delete=models.CASCADE, related_name="notices")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, null=True, blank=True, related_name="notices")
    kind = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["municipality", "person", "created_at"], name="notice_by_person")]


class ReceiptCounter(TenantOwned):
    """受付番号 sequence per municipality and year."""

    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "year"], name="receipt_counter_unique_year")]
