from django.urls import path

from . import views

app_name = "bookings"

urlpatterns = [
    path("bookings/", views.mine, name="mine"),
    path("bookings/new/", views.new, name="new"),
    path("bookings/<uuid:public_id>/", views.detail, name="detail"),
    path("bookings/<uuid:public_id>/change/", views.new, name="change"),
    path("bookings/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
]
