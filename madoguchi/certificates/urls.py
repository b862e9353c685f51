from django.urls import path

from . import views

app_name = "certificates"

urlpatterns = [
    path("certificates/", views.start, name="start"),
    path("certificates/<str:number>/", views.issued, name="issued"),
    path("certificates/<str:number>/pdf/", views.download, name="download"),
    path("verify/", views.verify_start, name="verify_start"),
    path("verify/<str:number>/", views.verify, name="verify"),
]
