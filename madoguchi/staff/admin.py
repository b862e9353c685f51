"""The Django admin for configuration: behind TOTP, one municipality at a time.

The municipality is the one the staff member signed in to (TenantMiddleware puts it in
scope), and only its administrators get in. There is no admin sign-in page of its own:
staff sign in through their municipality's page, with password and TOTP.
"""

from django.contrib import admin
from django.db import models, transaction
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite

from madoguchi.audit.models import AuditEvent
from madoguchi.audit.services import record
from madoguchi.municipalities.models import Municipality

from .models import Department, Membership


class StaffAdminSite(OTPAdminSite):
    site_header = _("madoguchi 設定管理")
    site_title = _("madoguchi 設定管理")
    index_title = _("設定")

    def has_permission(self, request):
        municipality = getattr(request, "municipality", None)
        if municipality is None or not super().has_permission(request):
            return False
        return Membership.objects.filter(user=request.user, role=Membership.Role.ADMINISTRATOR).exists()

    def login(self, request, extra_context=None):
        municipality = getattr(request, "municipality", None)
        if municipality is not None:
            return redirect("staff:login", municipality.code)
        return redirect("directory")


admin_site = StaffAdminSite(name="admin")


class MunicipalModelAdmin(admin.ModelAdmin):
    """Permissions come from the membership role, not Django's per-model permissions:
    StaffAdminSite lets in only the municipality's administrators, and they may use
    every model registered here, within the limits each admin class sets."""

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)


class AuditedAdmin(MunicipalModelAdmin):
    """Writes an audit event with every change made through the admin."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            record(f"admin.{obj._meta.model_name}.{'changed' if change else 'added'}", actor=request.user, obj=obj,
                   data={"fields": sorted(form.changed_data)})

    def delete_model(self, request, obj):
        with transaction.atomic():
            record(f"admin.{obj._meta.model_name}.deleted", actor=request.user, obj=(obj._meta.label_lower, str(obj.pk)))
            super().delete_model(request, obj)


@admin.register(Municipality, site=admin_site)
class MunicipalityAdmin(AuditedAdmin):
    list_display = ["code", "name", "is_active"]
    readonly_fields = ["code", "is_active"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = ["code", "name", "name_kana", "is_active", "contact_phone", "contact_email", "website_url",
              "office_hours", "office_hours_en", "welcome_message", "welcome_message_en"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk=request.municipality.pk)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Department, site=admin_site)
class DepartmentAdmin(AuditedAdmin):
    list_display = ["code", "name"]
    fields = ["code", "name"]


@admin.register(Membership, site=admin_site)
class MembershipAdmin(AuditedAdmin):
    list_display = ["user", "department", "role", "cashier"]
    list_filter = ["role", "cashier"]
    fields = ["user", "department", "role", "cashier"]
    readonly_fields = ["user"]

    def has_add_permission(self, request):
        # New staff get their account and TOTP device from `madoguchi staff add`.
        return False


@admin.register(AuditEvent, site=admin_site)
class AuditEventAdmin(MunicipalModelAdmin):
    list_display = ["seq", "occurred_at", "action", "actor_type", "actor_id", "object_type", "object_id"]
    list_filter = ["action"]
    ordering = ["-seq"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
