from django.urls import path

from . import staff_views as views

app_name = "notices_staff"

urlpatterns = [
    path("", views.broadcast_list, name="list"),
    path("<uuid:public_id>/", views.broadcast_detail, name="detail"),
    path("<uuid:public_id>/approve/", views.broadcast_action, {"action": "approve"}, name="approve"),
    path("<uuid:public_id>/send/", views.broadcast_action, {"action": "send"}, name="send"),
]
