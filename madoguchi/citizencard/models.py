"""Which card services a municipality offers: one row per enabled service."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.municipalities.tenancy import TenantOwned


class EnabledService(TenantOwned):
    key = models.CharField(_("サービス"), max_length=40)
    enabled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "key"], name="citizencard_service_once")]

    def __str__(self) -> str:
        return self.key
