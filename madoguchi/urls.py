from django.urls import include, path, register_converter
from django.views.i18n import set_language

from madoguchi.applications.api import api as applications_api
from madoguchi.ceremonies.api import api as ceremony_api
from madoguchi.core import views as core_views
from madoguchi.core.access import public_view
from madoguchi.municipalities.converters import MunicipalityCodeConverter
from madoguchi.portal import views as portal_views
from madoguchi.staff.admin import admin_site

register_converter(MunicipalityCodeConverter, "municipality")


def public(urls):
    """Marks every view of an included API as public (its operations check their own rights)."""
    patterns, app_name, namespace = urls
    for pattern in patterns:
        pattern.callback.madoguchi_public = True
    return patterns, app_name, namespace


urlpatterns = [
    path("", portal_views.directory, name="directory"),
    path("healthz", core_views.healthz, name="healthz"),
    path("livez", core_views.livez, name="livez"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics_view, name="metrics"),
    path("i18n/setlang/", public_view(set_language), name="set_language"),
    path("admin/", admin_site.urls),
    path("<municipality:code>/", include("madoguchi.portal.urls")),
    path("<municipality:code>/staff/", include("madoguchi.staff.urls")),
    path("<municipality:code>/staff/", include("madoguchi.casework.urls")),
    path("<municipality:code>/staff/procedures/", include("madoguchi.procedures.urls")),
    path("<municipality:code>/staff/identity-reviews/", include("madoguchi.identity.staff_urls")),
    path("<municipality:code>/ceremony/", include("madoguchi.ceremonies.urls")),
    path("<municipality:code>/", include("madoguchi.natapp.urls")),
    path("<municipality:code>/", include("madoguchi.identity.urls")),
    path("<municipality:code>/api/applications/", public(applications_api.urls)),
    path("<municipality:code>/api/", public(ceremony_api.urls)),
    path("<municipality:code>/", include("madoguchi.oidc.urls")),
    path("<municipality:code>/", include("madoguchi.applications.urls")),
    path("<municipality:code>/", include("madoguchi.documents.urls")),
    path("<municipality:code>/", include("madoguchi.payments.urls")),
    path("<municipality:code>/staff/payments/", include("madoguchi.payments.staff_urls")),
    path("<municipality:code>/", include("madoguchi.notices.urls")),
    path("<municipality:code>/staff/documents/", include("madoguchi.documents.staff_urls")),
    path("<municipality:code>/staff/exports/", include("madoguchi.exports.urls")),
    path("<municipality:code>/staff/broadcasts/", include("madoguchi.notices.staff_urls")),
    path("<municipality:code>/", include("madoguchi.certificates.urls")),
    path("<municipality:code>/staff/certificates/", include("madoguchi.certificates.staff_urls")),
    path("<municipality:code>/staff/benefits/", include("madoguchi.benefits.staff_urls")),
    path("<municipality:code>/", include("madoguchi.receiving_accounts.urls")),
    path("<municipality:code>/", include("madoguchi.benefits.urls")),
    path("<municipality:code>/", include("madoguchi.bookings.urls")),
    path("<municipality:code>/staff/bookings/", include("madoguchi.bookings.staff_urls")),
    path("<municipality:code>/staff/counter/", include("madoguchi.counter.urls")),
    path("<municipality:code>/", include("madoguchi.citizencard.urls")),
    path("<municipality:code>/", include("madoguchi.attendance.urls")),
    path("<municipality:code>/", include("madoguchi.library.urls")),
    path("<municipality:code>/staff/moving/", include("madoguchi.moving.staff_urls")),
    path("<municipality:code>/", include("madoguchi.moving.urls")),
    path("<municipality:code>/staff/receiving-accounts/", include("madoguchi.receiving_accounts.staff_urls")),
]

handler400 = "madoguchi.core.views.bad_request"
handler403 = "madoguchi.core.views.permission_denied"
handler404 = "madoguchi.core.views.page_not_found"
handler500 = "madoguchi.core.views.server_error"
