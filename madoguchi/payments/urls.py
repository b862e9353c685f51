from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("applications/<uuid:public_id>/pay/", views.pay, name="pay"),
    path("payments/<uuid:public_id>/", views.payment_status, name="status"),
    path("payments/demo/<str:reference>/", views.demo_page, name="demo_page"),
    path("payments/webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]
