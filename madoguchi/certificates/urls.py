from django.urls import path

from . import views

app_name = "certificates"

urlpatterns = [
    path("certificates/", views.start, name="start"),
    path("certificates/<str:number>/", views.issued, name="issued"),
    path("certificates/<str:number>/pdf/", views.download, name="download"),
    path("kiosk/", views.kiosk_start, name="kiosk_start"),
    path("kiosk/certificates/", views.kiosk_choose, name="kiosk_choose"),
    path("kiosk/certificates/<str:number>/", views.kiosk_print, name="kiosk_print"),
    path("kiosk/end/", views.kiosk_end, name="kiosk_end"),
    path("verify/", views.verify_start, name="verify_start"),
    path("verify/<str:number>/", views.verify, name="verify"),
]
