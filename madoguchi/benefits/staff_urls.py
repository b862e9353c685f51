from django.urls import path

from . import staff_views as views

app_name = "benefits_staff"

urlpatterns = [
    path("", views.program_list, name="list"),
    path("<int:pk>/", views.program_detail, name="detail"),
]
