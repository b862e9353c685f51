from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned

MAX_COMMENT_CHARS = 2000


class CaseComment(TenantOwned):
    """An internal comment of the back office on an application: never shown to the
    resident (a return for correction carries its own message to the resident)."""

    application = models.ForeignKey("applications.Application", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("内容"), max_length=MAX_COMMENT_CHARS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("内部メモ")
        verbose_name_plural = _("内部メモ")
        indexes = [models.Index(fields=["municipality", "application", "created_at"], name="case_comment_by_application")]
