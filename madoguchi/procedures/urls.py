"""Back office: the procedure editor, under /<code>/staff/procedures/."""

from django.urls import path

from . import builder_views
from . import staff_views as views

app_name = "procedures"

urlpatterns = [
    path("", views.procedure_list, name="list"),
    path("new/", views.procedure_new, name="new"),
    path("<int:pk>/", views.procedure_detail, name="detail"),
    path("<int:pk>/retire/", views.procedure_retire, name="retire"),
    path("<int:pk>/versions/<int:number>/", views.version_edit, name="version"),
    path("<int:pk>/versions/<int:number>/build/", builder_views.builder_action, name="build"),
    path("<int:pk>/versions/<int:number>/fields/<int:section>/<int:field>/", builder_views.field_edit, name="field"),
    path("<int:pk>/versions/<int:number>/fields/<int:section>/<int:field>/<int:sub>/", builder_views.field_edit,
         name="subfield"),
    path("<int:pk>/versions/<int:number>/preview/", views.version_preview, name="preview"),
    path("<int:pk>/versions/<int:number>/copy/", views.version_copy, name="copy"),
    path("<int:pk>/versions/<int:number>/publish/", views.version_publish, name="publish"),
    path("<int:pk>/versions/<int:number>/discard/", views.version_discard, name="discard"),
]
