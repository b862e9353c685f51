from django.urls import path

from . import views

app_name = "ceremonies"

urlpatterns = [
    path("start/", views.start, name="start"),
    path("<str:ceremony_id>/", views.wait, name="wait"),
    path("<str:ceremony_id>/status/", views.status, name="status"),
    path("<str:ceremony_id>/finish/", views.finish, name="finish"),
    path("<str:ceremony_id>/virtual-card/", views.answer, {"path": "demo-virtual-card"}, name="virtual_card"),
]
