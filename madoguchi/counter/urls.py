from django.urls import path

from . import views

app_name = "counter"

urlpatterns = [
    path("", views.home, name="home"),
    path("desk/", views.desk, name="desk"),
    path("desk/state/", views.desk_state, name="desk_state"),
    path("desk/read/", views.desk_read, name="desk_read"),
    path("desk/pin/", views.pin_request, name="pin_request"),
    path("desk/pin/cancel/", views.pin_cancel, name="pin_cancel"),
    path("<uuid:visit>/", views.visit, name="visit"),
    path("<uuid:visit>/procedures/<slug:slug>/", views.edit, name="edit"),
    path("<uuid:visit>/procedures/<slug:slug>/form.pdf", views.pdf, name="pdf"),
    path("<uuid:visit>/forms.pdf", views.forms_pdf, name="forms_pdf"),
    path("<uuid:visit>/procedures/<slug:slug>/sign/", views.sign, name="sign"),
    path("<uuid:visit>/procedures/<slug:slug>/signed/", views.signed, name="signed"),
    path("<uuid:visit>/screen/", views.screen, name="screen"),
    path("<uuid:visit>/screen/state/", views.screen_state, name="screen_state"),
    path("<uuid:visit>/file/", views.file, name="file"),
    path("<uuid:visit>/close/", views.close, name="close"),
]
