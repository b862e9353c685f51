from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class PublishedVersionImmutable(RuntimeError):
    """A published procedure version was about to be changed or deleted."""


class Procedure(TenantOwned):
    """A municipality's procedure (手続き), known by a stable slug; its content is in versions."""

    slug = models.SlugField(max_length=63)
    department_code = models.CharField(_("担当課"), max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("手続き")
        verbose_name_plural = _("手続き")
        constraints = [models.UniqueConstraint(fields=["municipality", "slug"], name="procedure_unique_slug")]

    def __str__(self) -> str:
        return self.slug

    def current_version(self):
        return (ProcedureVersion.unscoped.filter(procedure=self, status=ProcedureVersion.Status.PUBLISHED)
                .order_by("-number").first())


class ProcedureVersion(TenantOwned):
    """One version of a procedure's definition. Immutable once published: an application
    keeps the version it was made on; a change is a new version."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("下書き")
        PUBLISHED = "published", _("公開")
        RETIRED = "retired", _("公開終了")

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    definition_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("手続きの版")
        verbose_name_plural = _("手続きの版")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "procedure", "number"], name="procedure_version_unique"),
        ]
        indexes = [models.Index(fields=["municipality", "status", "procedure"], name="procedure_version_status")]

    def __str__(self) -> str:
        return f"{self.procedure_id} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = ProcedureVersion.unscoped.filter(pk=self.pk).values("status", "definition_sha256").first()
            if stored and stored["status"] != self.Status.DRAFT:
                # Only retiring a published version is allowed; its content never changes.
                if (stored["definition_sha256"] != self.definition_sha256
                        or not (stored["status"] == self.Status.PUBLISHED and self.status == self.Status.RETIRED)):
                    raise PublishedVersionImmutable(f"procedure version {self.pk} is {stored['status']}: "
                                                    "make a new version instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status != self.Status.DRAFT:
            raise PublishedVersionImmutable(f"procedure version {self.pk} is {self.status}: it cannot be deleted")
        return super().delete(*args, **kwargs)
