from django.urls import path

from . import views

app_name = "library"

urlpatterns = [
    path("card-services/library/", views.portal, name="portal"),
    path("staff/library/", views.staff, name="staff"),
    path("staff/library/<int:pk>/", views.staff_library, name="staff_library"),
    path("staff/library/<int:pk>/rotate/", views.rotate, name="rotate"),
    path("library/<slug:library>/self-checkout/", views.self_checkout, name="self_checkout"),
    path("api/library/<slug:library>/patron", views.api_patron, name="api_patron"),
]
