from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("documents/<uuid:public_id>/", views.resident_download, name="download"),
]
