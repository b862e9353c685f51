from django.urls import path

from . import staff_views as views

app_name = "bookings_staff"

urlpatterns = [
    path("", views.counters, name="counters"),
    path("<int:pk>/", views.day, name="day"),
    path("<int:pk>/bookings/<int:booking_id>/mark/", views.mark, name="mark"),
]
