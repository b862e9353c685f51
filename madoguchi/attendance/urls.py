from django.urls import path

from . import views

app_name = "attendance"

urlpatterns = [
    path("attendance/", views.portal, name="portal"),
    path("staff/attendance/", views.events, name="events"),
    path("staff/attendance/<int:pk>/", views.event, name="event"),
    path("staff/attendance/<int:pk>/terminal/", views.assign, name="assign"),
    path("staff/attendance/<int:pk>/attendance.csv", views.export, name="export"),
]
