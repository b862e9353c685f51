from django.urls import path

from . import views

app_name = "staff_documents"

urlpatterns = [
    path("", views.staff_list, name="list"),
    path("<uuid:public_id>/", views.staff_download, name="download"),
]
