from django.urls import path

from . import staff_views as views

app_name = "notices_staff"

urlpatterns = [
    path("", views.broadcast_list, name="list"),
    path("quiet-hours/", views.quiet_hours, name="quiet_hours"),
    path("<uuid:public_id>/", views.broadcast_detail, name="detail"),
    path("<uuid:public_id>/approve/", views.broadcast_action, {"action": "approve"}, name="approve"),
    path("<uuid:public_id>/send/", views.broadcast_action, {"action": "send"}, name="send"),
    path("<uuid:public_id>/test/", views.broadcast_action, {"action": "test"}, name="test"),
    path("<uuid:public_id>/schedule/", views.broadcast_action, {"action": "schedule"}, name="schedule"),
    path("<uuid:public_id>/unschedule/", views.broadcast_action, {"action": "unschedule"}, name="unschedule"),
    path("<uuid:public_id>/statistics/", views.broadcast_statistics, name="statistics"),
]
