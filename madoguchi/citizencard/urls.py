from django.urls import path

from . import views

app_name = "citizencard"

urlpatterns = [
    path("card-services/", views.portal, name="portal"),
    path("card-services.json", views.export, name="export"),
    path("staff/card-services/", views.staff, name="staff"),
]
