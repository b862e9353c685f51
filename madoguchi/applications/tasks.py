"""Background work of online applications, run by the Tasks worker (`madoguchi worker`)."""

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django_tasks import task

from madoguchi.audit.services import record
from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant

from . import sanitise
from .models import Attachment
from .retention import purge

log = logging.getLogger(__name__)


@task()
def purge_expired_applications() -> dict:
    """Retention and draft clean-up for every municipality (see retention.py)."""
    outcome = {}
    for municipality in Municipality.objects.order_by("code"):
        report = purge(municipality)
        outcome[municipality.code] = {"retention": report.count("retention"),
                                      "draft_expired": report.count("draft_expired"), "kept": len(report.kept)}
    return outcome


@task()
def sanitise_application_attachments(municipality_id: int, application_id: int) -> dict:
    """無害化 of an application's pending attachments (sanitise.py); enqueued when it is submitted."""
    municipality = Municipality.objects.get(pk=municipality_id)
    return sanitise_pending(municipality, application_id=application_id)


def sanitise_pending(municipality, *, application_id: int | None = None) -> dict:
    """Sanitises pending attachments (of one application, or all of the municipality's).

    Each attachment is its own transaction: the clean copy is written beside the original
    (never over it — the original's hash is signed) and the status, note and an audit
    event are stored together. Returns {"clean": n, "rejected": n}."""
    counts = {"clean": 0, "rejected": 0}
    with tenant(municipality):
        pending = Attachment.objects.filter(sanitisation=Attachment.Sanitisation.PENDING)
        if application_id is not None:
            pending = pending.filter(application_id=application_id)
        for pk in list(pending.order_by("pk").values_list("pk", flat=True)):
            outcome = _sanitise_one(pk)
            if outcome:
                counts[outcome] += 1
    return counts


def _sanitise_one(pk: int) -> str | None:
    attachment = Attachment.objects.select_related("application").filter(
        pk=pk, sanitisation=Attachment.Sanitisation.PENDING).first()
    if attachment is None:
        return None  # done by another worker meanwhile, or deleted
    with default_storage.open(attachment.file.name) as stored:
        content = stored.read()
    try:
        result = sanitise.sanitise(content, attachment.content_type)
    except sanitise.Rejected as exc:
        status, note, clean_name, removed = Attachment.Sanitisation.REJECTED, exc.reason[:200], "", []
    else:
        clean_name = default_storage.save(f"{attachment.file.name}.sanitised", ContentFile(result.content))
        status, removed = Attachment.Sanitisation.CLEAN, result.removed
        note = ("removed: " + ", ".join(removed))[:200] if removed else ""
    with transaction.atomic():
        updated = Attachment.objects.filter(pk=pk, sanitisation=Attachment.Sanitisation.PENDING).update(
            sanitisation=status, sanitised_file=clean_name, sanitisation_note=note)
        if updated:
            record(f"applications.attachment_{status}", actor=("system", "sanitiser"), obj=attachment, data={
                "application": attachment.application.receipt_number, "sha256": attachment.sha256,
                "type": attachment.content_type, "removed": removed[:20], "reason": note if status == "rejected" else ""})
    if not updated and clean_name:
        default_storage.delete(clean_name)  # another worker got there first
        return None
    log.info("attachment sanitised", extra={"attachment": pk, "outcome": status})
    return status
