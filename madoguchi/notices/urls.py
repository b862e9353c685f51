from django.urls import path

from . import views

app_name = "notices"

urlpatterns = [
    path("account/email/", views.email_register, name="email_register"),
    path("notices/email/verify/<str:token>/", views.email_verify, name="email_verify"),
    path("notices/email/unsubscribe/<str:token>/", views.email_unsubscribe, name="email_unsubscribe"),
    path("account/push/", views.push_subscribe, name="push_subscribe"),
    path("account/push/<int:pk>/remove/", views.push_remove, name="push_remove"),
    path("notices/push/key", views.push_key, name="push_key"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("account/notices/", views.preferences_save, name="preferences"),
]
