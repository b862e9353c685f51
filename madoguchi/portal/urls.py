from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.top, name="top"),
    path("login/", views.card_login, name="card_login"),
    path("notices/", views.notices, name="notices"),
    path("notices/read/", views.notices_read, name="notices_read"),
    path("account/", views.account, name="account"),
]
