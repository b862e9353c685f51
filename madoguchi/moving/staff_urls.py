from django.urls import path

from . import staff_views as views

app_name = "moving_staff"

urlpatterns = [
    path("", views.index, name="index"),
    path("in/<int:pk>/", views.incoming, name="incoming"),
    path("in/<int:pk>/notice/", views.download_notice, name="download_notice"),
    path("out/<int:pk>/", views.outgoing, name="outgoing"),
    path("out/<int:pk>/package/", views.download, name="download"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/remove/", views.remove_follow_up, name="remove_follow_up"),
]
