"""Certificate types a municipality offers, and every certificate it issued (the issue log:
requester, subject record and the record's version, the PDF's SHA-256)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Kind(models.TextChoices):
    RESIDENT_COPY = "resident_copy", _("住民票の写し")
    RESIDENT_FACTS = "resident_facts", _("住民票記載事項証明書")
    SEAL = "seal", _("印鑑登録証明書")


class CertificateType(TenantOwned):
    """A certificate the municipality issues online, with its fee (手数料条例)."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    fee_yen = models.PositiveIntegerField(_("手数料（円）"), default=300)
    enabled = models.BooleanField(_("オンライン交付する"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "kind"], name="certificate_type_once")]

    def __str__(self) -> str:
        return str(self.get_kind_display())


class Certificate(TenantOwned):
    """One issued certificate. The PDF is stored as issued; the verification page compares an
    uploaded file with `sha256` byte for byte."""

    class Scope(models.TextChoices):
        PERSON = "person", _("本人のみ")
        HOUSEHOLD = "household", _("世帯全員")

    issue_number = models.CharField(max_length=19)  # XXXX-XXXX-XXXX-XXXX (Crockford base32)
    type = models.ForeignKey(CertificateType, on_delete=models.PROTECT, related_name="issued")
    requester = models.ForeignKey("identity.Person", on_delete=models.PROTECT, related_name="+")
    subject_record = models.ForeignKey("residents.ResidentRecord", on_delete=models.PROTECT, related_name="+")
    record_version = models.DateTimeField()  # the record's updated_at when it was read
    record_digest = models.CharField(max_length=64)  # residents.reading.RecordFacts.digest()
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.PERSON)
    options = models.JSONField(default=dict)  # what the resident chose to print (本籍・筆頭者, 続柄, 世帯主)
    purpose = models.CharField(max_length=100, blank=True)
    fee_yen = models.PositiveIntegerField()
    file = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    issued_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    revoke_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "issue_number"], name="certificate_number_once")]
        indexes = [models.Index(fields=["municipality", "requester", "issued_at"], name="certificate_by_requester")]

    def __str__(self) -> str:
        return self.issue_number

    def filename(self) -> str:
        return f"certificate-{self.issue_number}.pdf"
