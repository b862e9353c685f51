from django.urls import path

from . import views

app_name = "payments_staff"

urlpatterns = [
    path("<uuid:public_id>/", views.staff_payments, name="application"),
]
