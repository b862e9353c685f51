import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class DocumentProfile(TenantOwned):
    """How a municipality's documents are issued: the issuer's title (発行者) and the
    seal image (公印, PNG). Without a seal image the documents carry none."""

    issuer_title = models.CharField(_("発行者"), max_length=60, blank=True)  # e.g. 窓口市長
    seal_png = models.BinaryField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], name="document_profile_one_per_municipality")]


class Document(TenantOwned):
    """A signed PDF issued for an application: a receipt at submission, a decision notice
    when it is approved or rejected, a 領収書 when its fee is paid. One of each kind per
    application (an application is paid once: payments' one-live-payment rule)."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("受付票")
        DECISION = "decision", _("決定通知書")
        PAYMENT_RECEIPT = "payment_receipt", _("領収書")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    application = models.ForeignKey("applications.Application", on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(_("種類"), max_length=16, choices=Kind.choices)
    decision = models.CharField(max_length=20, blank=True)  # approved / rejected for a decision
    # A 領収書's payment facts as the transition carried them (payments.services.receipt_facts).
    data = models.JSONField(default=dict, blank=True)
    file = models.CharField(max_length=300)  # a name in the default storage
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    signer = models.CharField(max_length=200)  # the signing certificate's subject
    signer_source = models.CharField(max_length=16)  # development / installed
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "public_id"], name="document_unique_public_id"),
            models.UniqueConstraint(fields=["municipality", "application", "kind"], name="document_one_per_kind"),
        ]
        indexes = [models.Index(fields=["municipality", "application"], name="document_by_application")]

    def filename(self) -> str:
        receipt = self.application.receipt_number or str(self.application.public_id)
        return f"{receipt}-{self.kind}.pdf"
