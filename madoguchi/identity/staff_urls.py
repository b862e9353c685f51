from django.urls import path

from . import staff_views

# Mounted at /<code>/staff/identity-reviews/ by madoguchi/urls.py: staff/ sits below
# identity in the layers, so it does not include these itself.
app_name = "identity_reviews"

urlpatterns = [
    path("", staff_views.review_queue, name="queue"),
    path("<int:review_id>/", staff_views.review_detail, name="detail"),
]
