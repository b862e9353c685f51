import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Person(models.Model):
    """A resident, deployment-wide (one person deals with several municipalities).

    Created by the first `identify` ceremony. Never keyed by the individual number. The
    four facts are those of the signature certificate at the last `identify`: the
    verified identity used to prefill forms.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    verified_name = models.CharField(_("氏名"), max_length=200)
    verified_birth_date = models.DateField(_("生年月日"))
    verified_sex = models.CharField(_("性別"), max_length=1)
    verified_address = models.CharField(_("住所"), max_length=300)
    verified_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.public_id)


class CardCredential(models.Model):
    """A card certificate linked to a Person.

    Identified by its SHA-256 and by (issuer key identifier, serial) — never by serial
    alone: the three J-LIS CA generations share one distinguished name. Linked only
    through an `identify` ceremony (both keys signed the same challenge).
    """

    class Purpose(models.TextChoices):
        AUTHENTICATION = "auth", _("利用者証明用")
        SIGNATURE = "sign", _("署名用")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="credentials")
    purpose = models.CharField(max_length=4, choices=Purpose.choices)
    certificate = models.BinaryField()
    sha256 = models.CharField(max_length=64, unique=True)
    issuer_key_id = models.CharField(max_length=128)
    serial = models.CharField(max_length=64)  # hex
    not_after = models.DateTimeField()
    linked_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer_key_id", "serial"], name="card_credential_unique_issuer_serial"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose}:{self.sha256[:12]}"


class SubjectCredential(models.Model):
    """A provider's subject linked to a Person: the national authentication app's pairwise
    `sub` for madoguchi's registered client (issuer + client id + subject). Linked only
    through an `identify` ceremony on that path (the provider's basic four facts matched
    against the resident record as a signature certificate's are); a later `login` with the
    same subject signs in the same Person. Deployment-wide, like CardCredential."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="subjects")
    issuer = models.CharField(max_length=300)
    client_id = models.CharField(max_length=200)
    subject = models.CharField(max_length=255)
    token_type = models.CharField(max_length=16, blank=True)  # of the last identify: card / smartphone
    linked_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id", "subject"], name="subject_credential_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject[:12]}"


class ResidentLink(TenantOwned):
    """Person ↔ this municipality's resident record: made by the card, never typed in."""

    class Method(models.TextChoices):
        AUTOMATIC = "automatic", _("自動照合")
        STAFF = "staff", _("職員確認")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="resident_links")
    record = models.ForeignKey("residents.ResidentRecord", on_delete=models.PROTECT, related_name="links")
    method = models.CharField(max_length=16, choices=Method.choices)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "person"], name="resident_link_unique_person"),
            models.UniqueConstraint(fields=["municipality", "record"], name="resident_link_unique_record"),
        ]


class LinkReview(TenantOwned):
    """No unique match between a verified identity and the resident records: staff decide.

    Holds the certificate's four facts as evidence while open; they are cleared when the
    review is resolved (the audit trail keeps references only).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("未処理")
        LINKED = "linked", _("紐付け済み")
        REJECTED = "rejected", _("却下")

    class Reason(models.TextChoices):
        NO_MATCH = "no_match", _("該当なし")
        SEVERAL_MATCHES = "several_matches", _("複数該当")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="link_reviews")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    reason = models.CharField(max_length=24, choices=Reason.choices)
    candidate_ids = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")

    class Meta:
        indexes = [models.Index(fields=["municipality", "status", "created_at"], name="link_review_queue")]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "person"], condition=models.Q(status="open"),
                                    name="link_review_one_open_per_person"),
        ]


class RefusedCertificate(models.Model):
    """A card certificate offered in an `identify` the server refused as a mixture of two
    cards (docs/ceremony.md, "One card"). While listed here it signs in to nothing and links
    to nothing — whether or not it is linked. Keyed by the certificate's SHA-256, deployment-
    wide like CardCredential; only an operator releases it (`identity_release_card`)."""

    sha256 = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=4, choices=CardCredential.Purpose.choices)
    reason = models.CharField(max_length=24)  # madoguchi.pki.pairing's reason of the first refusal
    refused_at = models.DateTimeField()
    times = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"refused {self.purpose}:{self.sha256[:12]}"
