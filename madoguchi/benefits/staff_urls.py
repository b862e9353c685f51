from django.urls import path

from . import staff_views as views

app_name = "benefits_staff"

urlpatterns = [
    path("", views.program_list, name="list"),
    path("<int:pk>/", views.program_detail, name="detail"),
    path("<int:pk>/open/", views.program_open, name="open"),
    path("<int:pk>/confirmations/", views.paper_confirmation, name="paper_confirmation"),
    path("<int:pk>/runs/", views.run_build, name="run_build"),
    path("<int:pk>/runs/<int:run_pk>/", views.run_detail, name="run"),
    path("<int:pk>/runs/<int:run_pk>/file/", views.run_file, name="run_file"),
    path("<int:pk>/runs/<int:run_pk>/results/", views.run_results, name="run_results"),
    path("<int:pk>/runs/<int:run_pk>/<slug:action>/", views.run_action, name="run_action"),
]
