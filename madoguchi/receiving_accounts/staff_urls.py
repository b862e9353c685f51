from django.urls import path

from . import staff_views

# Mounted at /<code>/staff/receiving-accounts/ by madoguchi/urls.py.
app_name = "receiving_accounts_staff"

urlpatterns = [
    path("", staff_views.queue, name="queue"),
    path("<int:account_id>/decide/", staff_views.decide, name="decide"),
    path("inspection/", staff_views.inspection, name="inspection"),
]
