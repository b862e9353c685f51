"""Tenant scoping: every tenant-owned query runs inside one municipality.

The current municipality is a context variable set by TenantMiddleware for `/<code>/…`
URLs, and by `tenant(municipality)` in commands, tasks and tests. A tenant-owned model's
default manager refuses to run without it, so a query that forgot its tenant fails
loudly instead of reading every municipality's rows. Operator tools that must cross
tenants (audit verification, migrations) use the explicit `unscoped` manager.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models

_current = ContextVar("madoguchi_municipality", default=None)


class TenantRequired(RuntimeError):
    """A tenant-owned model was queried with no municipality in scope."""


class CrossTenantWrite(RuntimeError):
    """A row of one municipality was about to be written in another's scope."""


def current_municipality():
    return _current.get()


def set_current_municipality(municipality):
    return _current.set(municipality)


def reset_current_municipality(token) -> None:
    _current.reset(token)


@contextmanager
def tenant(municipality):
    token = _current.set(municipality)
    try:
        yield municipality
    finally:
        _current.reset(token)


class TenantManager(models.Manager):
    def get_queryset(self):
        municipality = _current.get()
        if municipality is None:
            raise TenantRequired(
                f"{self.model._meta.label} is tenant-owned: query it inside a municipality "
                "(TenantMiddleware or madoguchi.municipalities.tenancy.tenant())"
            )
        return super().get_queryset().filter(municipality=municipality)


class TenantOwned(models.Model):
    """Base of every tenant-owned model: a municipality and a scoped default manager.

    Subclasses lead each of their indexes and unique constraints with `municipality`
    (tests/municipalities/test_tenancy.py checks every model).
    """

    municipality = models.ForeignKey(
        "municipalities.Municipality", on_delete=models.PROTECT, related_name="+", editable=False
    )

    objects = TenantManager()
    unscoped = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def save(self, *args, **kwargs):
        scope = _current.get()
        if self.municipality_id is None:
            if scope is None:
                raise TenantRequired(f"{self._meta.label} needs a municipality to be saved")
            self.municipality = scope
        elif scope is not None and scope.pk != self.municipality_id:
            raise CrossTenantWrite(
                f"{self._meta.label} of municipality {self.municipality_id} saved in the scope of {scope.pk}"
            )
        super().save(*args, **kwargs)
