from django.urls import path

from . import views

app_name = "payments_staff"

urlpatterns = [
    path("<uuid:public_id>/", views.staff_payments, name="application"),
]

# Reconciliation (収納消込) and the daily report: payments/reconciliation_views.py
from . import reconciliation_views  # noqa: E402

urlpatterns += [
    path("reconciliation/", reconciliation_views.runs, name="reconciliation"),
    path("reconciliation/<int:run_id>/", reconciliation_views.run_detail, name="reconciliation_run"),
    path("reconciliation/report/<str:day>/", reconciliation_views.report, name="reconciliation_report"),
]
