from django.urls import path

from . import views

app_name = "casework"

urlpatterns = [
    path("applications/", views.inbox, name="inbox"),
    path("applications/bulk/", views.bulk, name="bulk"),
    path("applications/<uuid:public_id>/", views.review, name="review"),
    path("applications/<uuid:public_id>/transition/", views.transition, name="transition"),
    path("applications/<uuid:public_id>/assign/", views.assign, name="assign"),
    path("applications/<uuid:public_id>/comments/", views.comment, name="comment"),
    path("applications/<uuid:public_id>/reveal/", views.reveal, name="reveal"),
    path("applications/<uuid:public_id>/audit/", views.application_audit, name="application_audit"),
    path("applications/<uuid:public_id>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("applications/<uuid:public_id>/attachments/<int:attachment_id>/preview/", views.attachment_preview,
         name="attachment_preview"),
    path("audit/", views.audit_index, name="audit"),
    path("audit/staff/<int:user_id>/", views.staff_audit, name="staff_audit"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
]
