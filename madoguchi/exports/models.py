import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned

from .formats import FORMATS
from .formats import choices as format_choices


class Export(TenantOwned):
    """One export of a procedure's applications for a core system (基幹連携), run by the
    Tasks worker. It belongs to the department that owns the procedure (`department`), whose
    members may download the file until it expires (docs/exports.md)."""

    class Kind(models.TextChoices):
        ORDINARY = "ordinary", _("通常（定義の出力項目）")
        MYNUMBER = "mynumber", _("個人番号（権限のある審査担当者のみ）")

    class State(models.TextChoices):
        QUEUED = "queued", _("待機中")
        RUNNING = "running", _("作成中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")
        EXPIRED = "expired", _("期限切れ")

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("staff.Department", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    procedure = models.ForeignKey("procedures.Procedure", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("種類"), max_length=16, choices=Kind.choices, default=Kind.ORDINARY)
    # The export formats' registry (formats/): the choices are its names and labels.
    format = models.CharField(_("形式"), max_length=16, choices=format_choices())
    status_filter = models.CharField(max_length=20, blank=True)
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    state = models.CharField(_("状態"), max_length=16, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    # Characters the chosen encoding cannot hold: [{"receipt", "column", "characters"}] (never the value).
    problems = models.JSONField(default=list, blank=True)
    file = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker while it writes rows; a running export whose heartbeat is older
    # than EXPORT_STALE_SECONDS was left by a killed worker (services.abandoned).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "public_id"], name="export_unique_public_id")]
        indexes = [
            models.Index(fields=["municipality", "department", "created_at"], name="export_by_department"),
            models.Index(fields=["municipality", "state", "expires_at"], name="export_by_expiry"),
        ]

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def extension(self) -> str:
        return FORMATS.get(self.format).extension

    def filename(self) -> str:
        stamp = self.created_at.strftime("%Y%m%d%H%M%S") if self.created_at else "export"
        return f"{self.procedure.slug}-{self.kind}-{stamp}.{self.extension}"
