from django.urls import path

from madoguchi.identity import staff_views as identity_views

from . import views

app_name = "staff"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.sign_in_view, name="login"),
    path("logout/", views.sign_out_view, name="logout"),
    path("settings/", views.municipality_settings, name="settings"),
    path("identity-reviews/", identity_views.review_queue, name="identity_reviews"),
    path("identity-reviews/<int:review_id>/", identity_views.review_detail, name="identity_review"),
]
