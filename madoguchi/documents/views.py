"""Downloads of signed documents: the resident's own, and the back office's."""

import uuid

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi.audit.services import record
from madoguchi.identity.sessions import resident_required
from madoguchi.staff.decorators import staff_member_required

from .access import staff_may_see
from .models import Document

MAX_RECEIPT_QUERY = 20


def _document(public_id) -> Document:
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404 from None
    document = (Document.objects.select_related("application", "application__procedure")
                .filter(public_id=public_id).first())
    if document is None:
        raise Http404
    return document


def _pdf_response(document: Document) -> FileResponse:
    from django.core.files.storage import default_storage

    response = FileResponse(default_storage.open(document.file), as_attachment=True, filename=document.filename(),
                            content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@require_GET
@resident_required
def resident_download(request, code, public_id):
    """The resident's own document; anyone else's is a 404 (never a hint that it exists)."""
    document = _document(public_id)
    if document.application.person_id != request.resident.pk:
        raise Http404
    return _pdf_response(document)


@never_cache
@require_GET
@staff_member_required()
def staff_list(request, code):
    """Documents of one application, found by its 受付番号."""
    receipt = request.GET.get("receipt", "").strip()[:MAX_RECEIPT_QUERY]
    documents = []
    if receipt:
        found = (Document.objects.select_related("application", "application__procedure")
                 .filter(application__receipt_number=receipt).order_by("created_at"))
        documents = [d for d in found if staff_may_see(request.membership, d.application)]
    return render(request, "documents/staff_list.html", {"receipt": receipt, "documents": documents})


@never_cache
@require_GET
@staff_member_required()
def staff_download(request, code, public_id):
    document = _document(public_id)
    if not staff_may_see(request.membership, document.application):
        raise PermissionDenied("department")
    record("documents.downloaded", actor=request.user, obj=document,
           data={"receipt": document.application.receipt_number, "kind": document.kind})
    return _pdf_response(document)
