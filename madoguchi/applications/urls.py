from django.urls import path

from . import views

app_name = "applications"

urlpatterns = [
    path("procedures/", views.catalog, name="catalog"),
    path("procedures/<slug:slug>/", views.procedure_detail, name="procedure"),
    path("procedures/<slug:slug>/apply/", views.apply, name="apply"),
    path("applications/", views.mine, name="mine"),
    path("applications/notices/", views.my_notices, name="notices"),
    path("applications/<uuid:public_id>/", views.detail, name="detail"),
    path("applications/<uuid:public_id>/review/", views.review, name="review"),
    path("applications/<uuid:public_id>/signed/", views.signed, name="signed"),
    path("applications/<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
    path("applications/<uuid:public_id>/correct/", views.correct, name="correct"),
    path("applications/<uuid:public_id>/corrected/", views.corrected, name="corrected"),
    path("applications/<uuid:public_id>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
]
