"""Back-office pages of exports: request (with filters), progress (htmx polling), download."""

import io
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi.procedures import forms as application_forms
from madoguchi.core.ratelimit import allow
from madoguchi.procedures.models import Procedure
from madoguchi.staff.decorators import staff_member_required
from madoguchi.staff.models import Membership

from . import services
from .formats import FORMATS
from .forms import ExportForm
from .models import Export

EXPORTERS = (Membership.Role.ADMINISTRATOR, Membership.Role.REVIEWER)


def _procedures(membership):
    found = []
    for procedure in Procedure.objects.order_by("slug"):
        if services.may_export(membership, procedure, Export.Kind.ORDINARY):
            version = procedure.current_version()
            procedure.title_text = application_forms.text(version.definition["title"]) if version else procedure.slug
            found.append(procedure)
    return found


def _visible(request):
    """Exports of the member's department, only of procedures it owns (an export belongs to
    the department that owns the procedure), newest first. No department: none."""
    membership = request.membership
    if membership.department_id is None:
        return Export.objects.none()
    return Export.objects.filter(department_id=membership.department_id,
                                 procedure__department_code=membership.department.code)


@never_cache
@staff_member_required(*EXPORTERS)
def export_list(request, code):
    procedures = _procedures(request.membership)
    form = ExportForm(request.POST or None, procedures=procedures)
    status = 200
    if request.method == "POST":
        if not allow("exports.request", str(request.user.pk), settings.EXPORT_REQUEST_RATE, 3600):
            form.add_error(None, "出力の依頼が多すぎます。しばらくしてからやり直してください。")
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            procedure = form.procedures[data["procedure"]]
            try:
                export = services.request_export(request.membership, request.user, procedure, kind=data["kind"],
                                                 fmt=data["format"], status=data.get("status") or "",
                                                 date_from=data.get("date_from"), date_to=data.get("date_to"))
            except services.ExportError as exc:
                form.add_error(None, str(exc))
                status = exc.status
            except PermissionDenied:
                form.add_error("kind", "この出力をする権限がありません。")
                status = 403
            else:
                return redirect("exports:detail", code, export.public_id)
        else:
            status = 400
    exports = _visible(request).select_related("procedure", "requested_by").order_by("-created_at")[:50]
    return render(request, "exports/list.html", {"form": form, "exports": exports,
                                                 "expiry_hours": settings.EXPORT_EXPIRY_HOURS}, status=status)


def _export(request, public_id) -> Export:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404 from None
    export = _visible(request).select_related("procedure", "requested_by").filter(public_id=public_id).first()
    if export is None:
        raise Http404
    return export


@never_cache
@require_GET
@staff_member_required(*EXPORTERS)
def export_detail(request, code, public_id):
    export = _export(request, public_id)
    return render(request, "exports/detail.html", _context(request, export))


def _context(request, export: Export) -> dict:
    # The download link only for who may download it (a My Number export: its reviewers).
    return {"e": export, "available": services.is_available(export) and services.may_download(request.membership,
                                                                                                export)}


@never_cache
@require_GET
@staff_member_required(*EXPORTERS)
def export_progress(request, code, public_id):
    """The progress fragment htmx polls while the export runs."""
    export = _export(request, public_id)
    return render(request, "exports/_progress.html", _context(request, export))


@never_cache
@require_GET
@staff_member_required(*EXPORTERS)
def export_download(request, code, public_id):
    from django.core.files.storage import default_storage

    export = _export(request, public_id)
    if not services.may_download(request.membership, export):
        raise PermissionDenied("export")
    if not services.is_available(export) or not export.file:
        raise Http404
    services.downloaded(export, request.user)
    opened = services.open_file(export)  # a My Number export is stored sealed
    content = io.BytesIO(opened) if opened is not None else default_storage.open(export.file)
    response = FileResponse(content, as_attachment=True, filename=export.filename(),
                            content_type=FORMATS.get(export.format).content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
