from django.urls import path

from . import staff_views as views

app_name = "certificates_staff"

urlpatterns = [
    path("", views.issue_log, name="log"),
    path("<str:number>/revoke/", views.revoke, name="revoke"),
]
