import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned
from madoguchi.residents.names import search_key as name_search_key

from .statemachine import OPEN, Role, Status

_OPEN = Q(status__in=sorted(OPEN))


def normalise(text: str) -> str:
    """The normalised form searched: residents.names.search_key (NFKC, no spaces, variant
    kanji folded, katakana as hiragana, casefolded) — the same key as resident records."""
    return name_search_key(text)


def text_grams(key: str) -> set[str]:
    """Character unigrams and bigrams of a normalised key: what the GIN index holds."""
    return set(key) | {key[i:i + 2] for i in range(len(key) - 1)}


def query_grams(key: str) -> list[str]:
    """The grams a search for `key` needs: its bigrams (one character: itself). Every match
    holds them all; the caller rechecks the substring, since bigrams may match apart."""
    if len(key) < 2:
        return [key] if key else []
    return sorted({key[i:i + 2] for i in range(len(key) - 1)})


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
    # How it was made: online by the resident, or at the counter (書かない窓口, counter app) by
    # a member of staff from one card read, checked by the resident and signed by hand.
    channel = models.CharField(_("受付方法"), max_length=10, choices=[("online", _("オンライン")),
                                                                  ("counter", _("窓口"))], default="online")
    served_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("窓口の担当者"))
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The back office (madoguchi/casework): the owning department copied from the procedure
    # when the application is stored, the reviewer it is assigned to, and a snapshot of the
    # applicant's name for the inbox and its search (docs/casework.md). `search_key` is the
    # normalised text searched (names, kana, receipt number); `search_grams` its distinct
    # character unigrams and bigrams, space-separated, behind a GIN index on PostgreSQL.
    department_code = models.CharField(_("担当課"), max_length=32, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("担当者"))
    applicant_name = models.CharField(_("申請者氏名"), max_length=200, blank=True)
    applicant_kana = models.CharField(_("申請者氏名（かな）"), max_length=200, blank=True)
    search_key = models.TextField(blank=True, editable=False)
    search_grams = models.TextField(blank=True, editable=False)

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
            # The inbox: a department's applications newest first (keyset on submitted_at, id),
            # by status, by assignee. The search index (GIN) is PostgreSQL-only: migration 0003.
            models.Index(fields=["municipality", "department_code", "submitted_at", "id"], name="application_inbox"),
            models.Index(fields=["municipality", "department_code", "status", "submitted_at", "id"],
                         name="application_inbox_status"),
            models.Index(fields=["municipality", "department_code", "assignee", "submitted_at", "id"],
                         name="application_inbox_assignee"),
            models.Index(fields=["municipality", "department_code", "procedure", "submitted_at", "id"],
                         name="application_inbox_procedure"),
            models.Index(fields=["municipality", "department_code", "procedure", "status", "submitted_at", "id"],
                         name="application_inbox_proc_status"),
        ]

    def __str__(self) -> str:
        return self.receipt_number or str(self.public_id)

    def snapshot_for_casework(self) -> None:
        """Copies what the back office lists and searches: the owning department, the
        applicant's verified name and kana (from the linked resident record), and the
        search columns. Never reads the data, so no individual number can reach them."""
        from madoguchi.identity.services import resident_link_of

        # Only a submitted application reaches a department (a draft, even a correction's, never does).
        self.department_code = self.procedure.department_code if self.submitted_at else ""
        self.applicant_name = self.person.verified_name
        if not self.applicant_kana:
            link = resident_link_of(self.person, municipality_id=self.municipality_id)
            self.applicant_kana = link.record.name_kana if link else ""
        self.refresh_search()

    def refresh_search(self) -> None:
        parts = [normalise(p) for p in (self.applicant_name, self.applicant_kana, self.receipt_number) if p]
        parts = [p for p in parts if p]
        self.search_key = " ".join(parts)
        self.search_grams = " ".join(sorted({g for p in parts for g in text_grams(p)}))


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
    # The copy staff open once sanitised (tasks.sanitise_pending); the original stays, its
    # hash being part of the signed document. The note: what was removed, or why rejected.
    sanitised_file = models.FileField(max_length=320, blank=True)
    sanitisation_note = models.CharField(max_length=200, blank=True)
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
