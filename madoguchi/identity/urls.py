from django.urls import path

from . import views

app_name = "identity"

urlpatterns = [
    path("logout/", views.sign_out, name="logout"),
]
