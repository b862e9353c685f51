from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class Department(TenantOwned):
    """A department (課) of the municipality; applications are routed to one."""

    code = models.SlugField(_("課コード"), max_length=32)
    name = models.CharField(_("課名"), max_length=64)

    class Meta:
        verbose_name = _("課")
        verbose_name_plural = _("課")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "code"], name="department_unique_code"),
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Membership(TenantOwned):
    """A staff member's place in one municipality: department and role."""

    class Role(models.TextChoices):
        ADMINISTRATOR = "administrator", _("管理者")
        REVIEWER = "reviewer", _("審査担当")
        VIEWER = "viewer", _("閲覧のみ")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, null=True, blank=True, related_name="members")
    role = models.CharField(_("役割"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    # 会計担当: may record counter payments (窓口払い) and counter or online refunds of the
    # department's applications; beside the role (a reviewer is not a cashier unless flagged).
    cashier = models.BooleanField(_("会計担当"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("職員の所属")
        verbose_name_plural = _("職員の所属")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "user"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["municipality", "department", "role"], name="membership_muni_dept_role")]

    def __str__(self) -> str:
        return f"{self.user} / {self.get_role_display()}"

    @property
    def is_administrator(self) -> bool:
        return self.role == self.Role.ADMINISTRATOR
