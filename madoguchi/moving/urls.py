from django.urls import path

from . import views

app_name = "moving"

urlpatterns = [
    path("moving/", views.mine, name="mine"),
]
