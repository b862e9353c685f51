from django.urls import path

from . import views

app_name = "benefits"

urlpatterns = [
    path("benefits/", views.mine, name="mine"),
    path("benefits/<int:pk>/decline/", views.decline, name="decline"),
]
