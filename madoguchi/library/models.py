"""Libraries of a municipality and the patron numbers residents linked to their card.

A link names no Person: it holds the library's pairwise pseudonym of the Person
(services.pseudonym, an HMAC of the library and the Person, as the OIDC provider's pairwise
subjects). It is found again from whichever certificate of the Person is read — a renewed
card's too — and a copy of this table alone does not say who anyone is."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Library(TenantOwned):
    """A library (図書館) of the municipality and the credential of its library system
    (stored as a SHA-256; shown once when made)."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    code = models.SlugField(_("図書館の識別子"), max_length=40)
    name = models.CharField(_("図書館の名前"), max_length=100)
    credential_sha256 = models.CharField(max_length=64)
    credential_hint = models.CharField(max_length=8)  # the credential's first characters, to tell them apart
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "code"], name="library_code_once"),
            models.UniqueConstraint(fields=["municipality", "credential_sha256"], name="library_credential_once"),
        ]

    def __str__(self) -> str:
        return self.name


class PatronLink(TenantOwned):
    """One resident's 利用者番号 at one library, under the library's pseudonym of the Person."""

    class Via(models.TextChoices):
        RESIDENT = "resident", _("本人がオンラインで登録")
        COUNTER = "counter", _("図書館の窓口で登録")

    library = models.ForeignKey(Library, on_delete=models.PROTECT, related_name="links")
    pseudonym = models.CharField(max_length=64)
    patron_number = models.CharField(_("利用者番号"), max_length=20)
    via = models.CharField(max_length=10, choices=Via.choices)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "library", "pseudonym"], name="library_link_once"),
            models.UniqueConstraint(fields=["municipality", "library", "patron_number"],
                                    name="library_patron_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.library_id}:{self.patron_number}"
