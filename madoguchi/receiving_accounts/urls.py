from django.urls import path

from . import views

app_name = "receiving_accounts"

urlpatterns = [
    path("receiving-account/", views.mine, name="mine"),
    path("receiving-account/edit/", views.edit, name="edit"),
    path("receiving-account/confirm/", views.confirm, name="confirm"),
    path("receiving-account/signed/", views.signed, name="signed"),
    path("receiving-account/delete/", views.delete, name="delete"),
]
