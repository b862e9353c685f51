from django.urls import path

from . import views

app_name = "notices"

urlpatterns = [
    path("account/email/", views.email_register, name="email_register"),
    path("notices/email/verify/<str:token>/", views.email_verify, name="email_verify"),
    path("notices/email/unsubscribe/<str:token>/", views.email_unsubscribe, name="email_unsubscribe"),
]
