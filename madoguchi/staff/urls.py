from django.urls import path

from . import views

app_name = "staff"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.sign_in_view, name="login"),
    path("logout/", views.sign_out_view, name="logout"),
    path("settings/", views.municipality_settings, name="settings"),
]
