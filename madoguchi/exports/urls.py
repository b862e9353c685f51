from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.export_list, name="list"),
    path("<uuid:public_id>/", views.export_detail, name="detail"),
    path("<uuid:public_id>/progress/", views.export_progress, name="progress"),
    path("<uuid:public_id>/download/", views.export_download, name="download"),
]
