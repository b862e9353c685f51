from django.urls import path

from . import views

app_name = "natapp"

urlpatterns = [
    path("natapp/start/<str:ceremony_id>/", views.start, name="start"),
    path("natapp/callback/", views.callback, name="callback"),
    path("natapp/jwks", views.jwks, name="jwks"),
]
